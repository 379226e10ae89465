"""Ending a device's live Dovecot sessions when it is revoked or its password changes.

Dovecot 2.3's ``doveadm kick`` matches a user name (with wildcards) or an IP. The Lua
passdb logs IMAP and POP3 sessions in as ``local@domain#<device id>``, so the mask
``*#<id>`` matches exactly one device's sessions (device ids are unique across
addresses) and leaves every other device of the address connected.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from mailward.core.deps import DeviceChangeNotice
from mailward.core.devices.changes import Subscriber

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
        process = await asyncio.create_subprocess_exec(
            self.doveadm,
            "-c",
            str(self.dovecot_config),
            "kick",
            device_mask(device_id),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), KICK_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            log.warning(
                "doveadm kick for device %s timed out", device_id, extra={"device_id": device_id}
            )
            return False
        if process.returncode not in (0, 68):  # 68: EX_NOUSER, no session to end
            reason = stderr.decode().strip()
            log.warning(
                "doveadm kick for device %s: %s", device_id, reason, extra={"device_id": device_id}
            )
            return False
        return True


def dovecot_kick_subscriber(dovecot_config: Path, doveadm: str = "doveadm") -> Subscriber:
    """The revocation subscriber that ``Services.kick_dovecot_sessions()`` (bootstrap)
    subscribes once per node when ``dovecot_config`` names the local Dovecot."""
    return DovecotKicker(dovecot_config, doveadm).device_changed
