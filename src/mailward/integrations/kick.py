"""Ending a device's live Dovecot sessions when it is revoked or its password changes.

Dovecot 2.3's ``doveadm kick`` matches a user name (with wildcards) or an IP. The Lua
passdb logs IMAP and POP3 sessions in as ``local@domain#<device id>``, so the mask
``*#<id>`` matches exactly one device's sessions (device ids are unique across
addresses) and leaves every other device of the address connected.

A Dovecot proxy (``integrate dovecot --role proxy``) holds its sessions in its login
processes, which ``doveadm kick`` does not see; ``doveadm proxy kick`` ends them, by
exact user name only (2.3.19 takes no mask), so the device's names come from
``doveadm proxy list``. On a Dovecot without proxied sessions that list is empty.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mailward.core.deps import DeviceChangeNotice
from mailward.core.devices.changes import Subscriber
from mailward.integrations.doveadm import NO_SUCH_USER, run_doveadm

log = logging.getLogger(__name__)

KICK_TIMEOUT = 10.0


def device_mask(device_id: int) -> str:
    return f"*#{device_id}"


class DovecotKicker:
    """A :class:`~mailward.core.devices.changes.DeviceEventHub` subscriber that runs
    ``doveadm -c CONFIG kick '*#<id>'`` for changes that end sessions."""

    def __init__(self, dovecot_config: Path, doveadm: str = "doveadm") -> None:
        self.dovecot_config = dovecot_config
        self.doveadm = doveadm

    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        if notice.ends_sessions:
            await self.kick(notice.device_id)

    async def kick(self, device_id: int) -> bool:
        """True when doveadm ran cleanly (also when the device had no session)."""
        if await self._doveadm(device_id, "kick", device_mask(device_id)) is None:
            return False
        listed = await self._doveadm(device_id, "-f", "tab", "proxy", "list")
        if listed is None:
            return False
        names = proxied_names(listed, device_id)
        return not names or await self._doveadm(device_id, "proxy", "kick", *names) is not None

    async def _doveadm(self, device_id: int, *arguments: str) -> str | None:
        """doveadm's output, or None (logged) when it failed."""
        command = " ".join(a for a in arguments if not a.startswith("-") and a != "tab")
        extra = {"device_id": device_id}
        try:
            result = await run_doveadm(
                self.dovecot_config, *arguments, seconds=KICK_TIMEOUT, doveadm=self.doveadm
            )
        except TimeoutError:
            log.warning("doveadm %s for device %s timed out", command, device_id, extra=extra)
            return None
        if result.code not in (0, NO_SUCH_USER):
            reason = result.error.strip()
            log.warning("doveadm %s for device %s: %s", command, device_id, reason, extra=extra)
            return None
        return result.output


def proxied_names(listing: str, device_id: int) -> list[str]:
    """The user names of ``doveadm -f tab proxy list`` that are this device's."""
    suffix = f"#{device_id}"
    rows = (line.split("\t", 1)[0] for line in listing.splitlines()[1:])
    return sorted({name for name in rows if name.endswith(suffix)})


def dovecot_kick_subscriber(dovecot_config: Path, doveadm: str = "doveadm") -> Subscriber:
    """The revocation subscriber that ``Services.kick_dovecot_sessions()`` (bootstrap)
    subscribes once per node when ``dovecot_config`` names the local Dovecot."""
    return DovecotKicker(dovecot_config, doveadm).device_changed
