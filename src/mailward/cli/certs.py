"""``mailward certs issue`` / ``renew``: the TLS certificate from an ACME CA."""

from __future__ import annotations

import asyncio
import datetime as dt

import typer

from mailward.bootstrap import Services
from mailward.cli.runtime import fail, run_with_services
from mailward.ops.certificates import (
    AcmeConfig,
    AcmeIssuer,
    CertificateError,
    certificate_names,
    expires_at,
)

certs_app = typer.Typer(
    help="The TLS certificate from an ACME CA (Let's Encrypt by default).",
    no_args_is_help=True,
)


async def _obtain(services: Services) -> str:
    names = await certificate_names(services.settings, services.db)
    config = AcmeConfig.from_settings(services.settings)
    try:
        await asyncio.to_thread(AcmeIssuer(config).issue, names)
    except CertificateError as exc:
        fail(f"no new certificate, the current one stays: {exc}")
    expiry = expires_at(config.certificate.cert)
    until = expiry.date().isoformat() if expiry else "?"
    return f"certificate for {', '.join(names)} until {until} in {config.certificate.cert}"


@certs_app.command("issue")
def issue(ctx: typer.Context) -> None:
    """Obtain a certificate for the host name and the autoconfig., autodiscover. and
    mta-sts. names of every verified Mail Service (HTTP-01 answered by the running web
    listener). A running serve picks it up within acme_check_interval_seconds."""
    typer.echo(run_with_services(ctx, _obtain))


@certs_app.command("renew")
def renew(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="renew even if not due"),
) -> None:
    """Renew the certificate when acme_renew_days are left (or at once with --force)."""

    async def use(services: Services) -> str:
        settings = services.settings
        expiry = expires_at(AcmeConfig.from_settings(settings).certificate.cert)
        if expiry is None:
            fail("no certificate from ACME yet: run `mailward certs issue`")
        left = (expiry - dt.datetime.now(dt.UTC)).days
        if left >= settings.acme_renew_days and not force:
            return f"not due: {left} days left (renewal at {settings.acme_renew_days})"
        return await _obtain(services)

    typer.echo(run_with_services(ctx, use))
