"""``mailward integrate ...``: configuration for Dovecot and Postfix.

Mounted by the ``mailward`` command as ``integrate``, which adds ``agent`` to it. Ports
(the client-facing ones and the socketmap's), data directory, TLS files and the auth
endpoint come from the usual settings (``MAILWARD_*``, ``MAILWARD_CONFIG``) and the
``mailward`` command's global options (``--data-dir``, ``--database-url``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from mailward.bootstrap import Services
from mailward.cli.runtime import fail, require_data_dir, run_with_services
from mailward.cli.runtime import options as global_options
from mailward.core.discovery import served_domains
from mailward.core.mailservices.dkim import SigningKey
from mailward.integrations.dovecot import write_dovecot_config
from mailward.integrations.options import (
    DEFAULT_LMTP_PORT,
    DEFAULT_SASL_PORT,
    DataPlaneOptions,
    DovecotRole,
)
from mailward.integrations.postfix import write_postfix_config
from mailward.integrations.rspamd import write_rspamd_config
from mailward.integrations.systemd import UnitOptions, write_systemd_units

app = typer.Typer(no_args_is_help=True, help="Configuration for Dovecot, Postfix and rspamd.")

Output = Annotated[Path, typer.Option("--output", "-o", help="directory to write into")]
LmtpPort = Annotated[int, typer.Option(help="Dovecot LMTP port (Postfix delivers here)")]
SaslPort = Annotated[int, typer.Option(help="Dovecot auth port (Postfix SMTP AUTH)")]
MailUser = Annotated[str | None, typer.Option(help="system user owning the mail")]
MailRoot = Annotated[Path | None, typer.Option(help="Maildirs: ROOT/domain/local/Maildir")]
AuthWorkers = Annotated[int, typer.Option(help="Dovecot auth workers (parallel logins)")]
Role = Annotated[
    DovecotRole,
    typer.Option(help="single: one machine; proxy: stateless, before mailbox backends; backend"),
]
Backend = Annotated[
    str | None, typer.Option(help="--role backend: its name in mailbox_backends (ports, host)")
]
ProxyNetworks = Annotated[
    list[str] | None,
    typer.Option(
        "--proxy-network",
        help="--role backend, required: the proxies' addresses or networks, and only theirs "
        "(repeatable): Dovecot believes the client IP they forward and their plaintext login",
    ),
]


def _options(
    lmtp_port: int,
    sasl_port: int,
    mail_user: str | None = None,
    mail_root: Path | None = None,
    auth_workers: int = 16,
) -> DataPlaneOptions:
    base = DataPlaneOptions()
    return DataPlaneOptions(
        lmtp_port=lmtp_port,
        sasl_port=sasl_port,
        mail_user=mail_user or base.mail_user,
        mail_root=mail_root,
        auth_workers=auth_workers,
    )


def _report(paths: list[Path]) -> None:
    for path in paths:
        typer.echo(str(path))


@app.command()
def dovecot(
    ctx: typer.Context,
    output: Output,
    lmtp_port: LmtpPort = DEFAULT_LMTP_PORT,
    sasl_port: SaslPort = DEFAULT_SASL_PORT,
    mail_user: MailUser = None,
    mail_root: MailRoot = None,
    auth_workers: AuthWorkers = 16,
    role: Role = "single",
    backend: Backend = None,
    proxy_network: ProxyNetworks = None,
) -> None:
    """Write dovecot.conf (the entry file, printed first) and the Lua passdb; a
    backend also its doveadm password. A backend listens on its mailbox_backends entry."""
    options = replace(
        _options(lmtp_port, sasl_port, mail_user, mail_root, auth_workers),
        role=role,
        backend=backend,
        proxy_networks=tuple(proxy_network or ()),
    )
    settings = global_options(ctx).settings()
    require_data_dir(settings)  # elsewhere, a new auth secret would lock Dovecot out
    try:
        _report(write_dovecot_config(settings, output, options))
    except ValueError as error:
        fail(str(error))


@app.command()
def postfix(
    ctx: typer.Context,
    output: Output,
    lmtp_port: LmtpPort = DEFAULT_LMTP_PORT,
    sasl_port: SaslPort = DEFAULT_SASL_PORT,
) -> None:
    """Write main.cf and master.cf for `postfix -c DIR start` (lookups go to the
    socketmap at MAILWARD_SOCKETMAP_BIND:MAILWARD_SOCKETMAP_PORT)."""
    options = _options(lmtp_port, sasl_port)
    _report(write_postfix_config(global_options(ctx).settings(), output, options))


@app.command()
def systemd(
    ctx: typer.Context,
    output: Output,
    user: Annotated[str, typer.Option(help="dedicated user running mailward serve")] = "mailward",
    config_file: Annotated[Path | None, typer.Option(help="MAILWARD_CONFIG of the service")] = None,
    dovecot_config: Annotated[Path | None, typer.Option(help="dovecot.conf: add its unit")] = None,
    postfix_dir: Annotated[
        Path | None, typer.Option(help="Postfix directory: add its unit")
    ] = None,
    mail_root: MailRoot = None,
    rspamd_config: Annotated[Path | None, typer.Option(help="rspamd.conf: add its unit")] = None,
) -> None:
    """Write mailward.service (Type=notify, watchdog) and, when given their
    configuration, units for Dovecot, Postfix and rspamd; all hardened."""
    units = UnitOptions(
        user=user,
        group=user,
        config_file=config_file,
        dovecot_config=dovecot_config,
        postfix_dir=postfix_dir,
        mail_root=mail_root,
        rspamd_config=rspamd_config,
    )
    _report(write_systemd_units(global_options(ctx).settings(), output, units))


@app.command()
def rspamd(ctx: typer.Context, output: Output) -> None:
    """Write rspamd's local.d/ and override.d/ files (the milter for Postfix: inbound
    checks, DKIM signing) and the active DKIM key of every verified Mail Service (0600).
    Use `--output /etc/rspamd`, or run rspamd with --var=LOCAL_CONFDIR=DIR; run again
    after `mailward dkim rotate`."""

    async def use(services: Services) -> list[Path]:
        keys: list[SigningKey] = []
        for domain in await served_domains(services.db):
            keys += await services.dkim.signing_keys(domain)
        return write_rspamd_config(services.settings, output, keys)

    _report(run_with_services(ctx, use))


if __name__ == "__main__":
    app()
