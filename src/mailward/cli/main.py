"""The ``mailward`` command."""

from __future__ import annotations

from pathlib import Path

import typer

from mailward.cli.addresses import address_move, address_placement
from mailward.cli.admin import audit_app, db_app, keys_app
from mailward.cli.backup import backup, restore
from mailward.cli.certs import certs_app
from mailward.cli.devices import device_app
from mailward.cli.dkim import dkim_app, dns
from mailward.cli.doctor import doctor
from mailward.cli.mail import address_app, mailservice_app
from mailward.cli.runtime import GlobalOptions, options
from mailward.cli.setup import account_app, init, org_app, quickstart
from mailward.integrations.agent import agent_settings
from mailward.integrations.cli import app as integrate_app

app = typer.Typer(
    help="Mailward: a self-hosted mail service built around per-device passwords.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None, "--data-dir", envvar="MAILWARD_DATA_DIR", help="data directory"
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", envvar="MAILWARD_DATABASE_URL", help="SQLAlchemy URL"
    ),
) -> None:
    ctx.obj = GlobalOptions(data_dir=data_dir, database_url=database_url)


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the web manager, the auth endpoint and the embedded mail servers."""
    settings = options(ctx).settings()
    from mailward.serve import run  # not for every command; a broken import stops us

    raise typer.Exit(run(settings))


def agent(
    ctx: typer.Context,
    dovecot_config: Path | None = typer.Option(
        None, help="dovecot.conf whose sessions device changes end (or MAILWARD_DOVECOT_CONFIG)"
    ),
) -> None:
    """`mailward serve` for Dovecot and Postfix, without the web manager: the auth
    endpoint, the Postfix tables, and the end of changed devices' Dovecot sessions."""
    from mailward.serve import run

    settings = agent_settings(options(ctx).settings(), dovecot_config)
    raise typer.Exit(run(settings, with_web=False))


app.command("init")(init)
app.command("quickstart")(quickstart)
app.command("doctor")(doctor)
app.command("dns")(dns)
app.command("backup")(backup)
app.command("restore")(restore)
app.add_typer(account_app, name="account")
app.add_typer(org_app, name="org")
app.add_typer(mailservice_app, name="mailservice")
address_app.command("move")(address_move)
address_app.command("placement")(address_placement)
app.add_typer(address_app, name="address")
app.add_typer(device_app, name="device")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(certs_app, name="certs")
app.add_typer(dkim_app, name="dkim")
integrate_app.command("agent")(agent)
app.add_typer(integrate_app, name="integrate", help="Configuration for Dovecot and Postfix.")
