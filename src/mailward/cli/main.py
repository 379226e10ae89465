"""The ``mailward`` command."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer

from mailward.cli.admin import audit_app, db_app, keys_app
from mailward.cli.devices import device_app
from mailward.cli.mail import address_app, mailservice_app
from mailward.cli.runtime import GlobalOptions, fail, options
from mailward.cli.setup import account_app, init, org_app, quickstart

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
    try:
        server = importlib.import_module("mailward.serve")
    except ImportError as exc:
        fail(f"the embedded servers are not available: {exc}")
    raise typer.Exit(server.run(settings))


app.command("init")(init)
app.command("quickstart")(quickstart)
app.add_typer(account_app, name="account")
app.add_typer(org_app, name="org")
app.add_typer(mailservice_app, name="mailservice")
app.add_typer(address_app, name="address")
app.add_typer(device_app, name="device")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


def _mount_integrations() -> None:
    """``mailward integrate``: Dovecot and Postfix configuration, when installed."""
    try:
        module = importlib.import_module("mailward.integrations.cli")
    except ImportError:
        return
    app.add_typer(module.app, name="integrate", help="Configuration for Dovecot and Postfix.")


_mount_integrations()
