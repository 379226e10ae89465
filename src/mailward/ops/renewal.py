"""Certificate renewal inside ``serve``: a background task that renews the ACME
certificate when ``acme_renew_days`` are left, and reloads the servers that use it.

It also notices a certificate that ``mailward certs issue`` / ``renew`` installed from
another process and reloads it. The embedded servers reload in place (the SIGHUP
path); with Dovecot and Postfix, ``doveadm reload`` and ``postfix reload`` run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from mailward.bootstrap import Services
from mailward.ops.certificates import (
    AcmeConfig,
    AcmeIssuer,
    CertificateError,
    certificate_names,
    expires_at,
)
from mailward.settings import Settings

log = logging.getLogger(__name__)
RELOAD_SECONDS = 30


class CertificateRenewal:
    def __init__(self, services: Services, reload: Callable[[], None]) -> None:
        self.services = services
        self.settings = services.settings
        self.config = AcmeConfig.from_settings(services.settings)
        self.reload = reload
        self._seen = modified_at(self.config.certificate.cert)  # what serve loaded

    def start(self) -> asyncio.Task[None]:
        return asyncio.create_task(self.run(), name="certificate-renewal")

    async def run(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self.settings.acme_check_interval_seconds)

    async def check_once(self) -> None:
        """Renew when due; reload when the certificate on disk changed."""
        cert = self.config.certificate.cert
        expiry = expires_at(cert)
        if expiry is None:
            return  # no certificate from ACME here: nothing to renew
        left = expiry - self.services.clock.now()
        if left.days < self.settings.acme_renew_days:
            await self.renew(left.days)
        stamp = modified_at(cert)
        if stamp != self._seen:
            self._seen = stamp
            await self.reload_servers()

    async def renew(self, days_left: int) -> None:
        log.info("certificate expires in %d days: renewing", days_left)
        try:
            names = await certificate_names(self.settings, self.services.db)
            await asyncio.to_thread(AcmeIssuer(self.config).issue, names)
        except (CertificateError, OSError) as exc:
            log.error("certificate renewal failed, keeping the current certificate: %s", exc)
            return
        log.info("certificate renewed for %s", ", ".join(names))

    async def reload_servers(self) -> None:
        self.reload()
        if self.settings.data_plane == "dovecot":
            await reload_standard_servers(self.settings)


def modified_at(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def reload_commands(settings: Settings) -> list[list[str]]:
    """``doveadm reload`` and ``postfix reload``, on the configured instances."""
    doveadm = (
        ["doveadm", "-c", str(settings.dovecot_config)] if settings.dovecot_config else ["doveadm"]
    )
    postfix = (
        ["postfix", "-c", str(settings.postfix_config)] if settings.postfix_config else ["postfix"]
    )
    return [[*doveadm, "reload"], [*postfix, "reload"]]


async def reload_standard_servers(settings: Settings) -> bool:
    """Make Dovecot and Postfix read their certificate again; False when one failed
    (logged with its error)."""
    results = [await run_reload(command) for command in reload_commands(settings)]
    return all(results)


async def run_reload(command: list[str]) -> bool:
    shown = " ".join(command)
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
        # that lands as the reload ends, and the renewal loop would run on after its stop.
        async with asyncio.timeout(RELOAD_SECONDS):
            _, stderr = await process.communicate()
    except TimeoutError:  # before OSError, of which it is a kind
        process.kill()
        await process.wait()
        log.error("%s: no answer within %.0f s, stopped", shown, RELOAD_SECONDS)
        return False
    except OSError as exc:
        log.error("%s: %s", shown, exc)
        return False
    if process.returncode != 0:
        log.error("%s: %s", shown, stderr.decode(errors="replace").strip())
        return False
    return True
