"""Moving a mailbox between Dovecot mailbox backends with doveadm, for
:meth:`mailward.core.addresses.placement.PlacementService.move`.

``doveadm -c <source's dovecot.conf> backup -u ADDRESS tcps:<target host>:<doveadm
port>`` first (TLS; the target's certificate, reached by IP, is not verified): dsync one
way, the target (remote) made identical to the source (local), so what only an old copy
on the target holds (from an earlier move away) is dropped, not merged back. Where that
would need the target's INBOX made anew (its old copy holds UIDs past the source's),
doveadm refuses ("INBOX can't be deleted", in the target's log) and the move stops
before the switch. After the switch ``sync`` instead: two-way, so what either side
received since the last run survives. Both reach the target's doveadm server (backends
share its password).
Sessions end with ``doveadm kick '*#<device id>'`` for each device of the address: on
a backend every session is named ``ADDRESS#<device id>`` (the Lua passdb), and the
proxies close a client's connection when its backend session ends. The address itself
is no mask: kick matches ``*`` and ``?`` in it as wildcards and takes a leading ``-``
for an option, and local parts may hold all three.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mailward.core.addresses.placement import MoveFailed
from mailward.integrations.doveadm import NO_SUCH_USER, run_doveadm
from mailward.integrations.kick import device_mask
from mailward.settings import MailboxBackend

SYNC_TIMEOUT = 30 * 60.0
KICK_TIMEOUT = 30.0
# doveadm sync/backup: "changes happened during sync, run again" (mail arrived meanwhile).
SYNC_AGAIN = 2
SYNC_ATTEMPTS = 10
USER_WILDCARDS = ("*", "?")  # doveadm -u matches them; no escape exists


class DoveadmMailboxMover:
    def __init__(self, backends: dict[str, MailboxBackend], doveadm: str = "doveadm") -> None:
        self.backends = backends
        self.doveadm = doveadm

    def _config(self, name: str) -> Path:
        config = self.backends[name].dovecot_config
        if config is None or not config.exists():
            raise MoveFailed(
                f"mailbox backend {name} has no dovecot_config here ({config}): run the move "
                f"where its dovecot.conf is, or set mailbox_backends.{name}.dovecot_config"
            )
        return config

    async def mirror(self, email: str, source: str, target: str) -> None:
        await self._dsync("backup", email, source, target)

    async def copy(self, email: str, source: str, target: str) -> None:
        await self._dsync("sync", email, source, target)

    async def _dsync(self, command: str, email: str, source: str, target: str) -> None:
        """``doveadm backup|sync`` run on ``source``, the target remote, until no change
        happened meanwhile (at most SYNC_ATTEMPTS runs)."""
        if any(wildcard in email for wildcard in USER_WILDCARDS):
            raise MoveFailed(
                f"{email} cannot be moved with doveadm: its -u option takes * and ? in a "
                "user name as wildcards and would reach other mailboxes; copy it by hand"
            )
        to = self.backends[target]
        where = f"tcps:{to.host}:{to.doveadm_port}"
        arguments = (command, "-u", email, where)
        for _ in range(SYNC_ATTEMPTS - 1):
            if await self._doveadm(source, SYNC_TIMEOUT, (0, SYNC_AGAIN), *arguments) == 0:
                return
        await self._doveadm(source, SYNC_TIMEOUT, (0,), *arguments)

    async def end_sessions(self, email: str, device_ids: Sequence[int], backend: str) -> None:
        for device_id in device_ids:
            mask = device_mask(device_id)
            await self._doveadm(backend, KICK_TIMEOUT, (0, NO_SUCH_USER), "kick", mask)

    async def _doveadm(
        self, backend: str, seconds: float, fine: tuple[int, ...], *arguments: str
    ) -> int:
        """doveadm's exit code, one of ``fine``; any other raises MoveFailed."""
        config = self._config(backend)
        try:
            result = await run_doveadm(config, *arguments, seconds=seconds, doveadm=self.doveadm)
        except TimeoutError:
            raise MoveFailed(f"doveadm {arguments[0]} on {backend} timed out") from None
        if result.code not in fine:
            reason = result.error.strip()[-500:] or f"exit code {result.code}, see its log"
            raise MoveFailed(f"doveadm {arguments[0]} on {backend} failed: {reason}")
        return result.code
