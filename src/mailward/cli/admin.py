"""``mailward db``, ``mailward audit`` and ``mailward keys``."""

from __future__ import annotations

import asyncio

import typer

from mailward.bootstrap import Services, prepare_data_dir
from mailward.cli.runtime import (
    OPERATOR,
    JsonFlag,
    options,
    print_rows,
    require_data_dir,
    run_with_services,
)
from mailward.core.audit.events import AuditFilter
from mailward.db.engine import Database
from mailward.db.migrate import current_revision, upgrade
from mailward.keys import load_key_file, write_key_file

db_app = typer.Typer(help="The database.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
keys_app = typer.Typer(help="The server key ring (outside the database).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration. Creates a missing data directory: on a new
    production node it is the first command run (docs/PRODUCTION.md)."""
    settings = options(ctx).settings()
    prepare_data_dir(settings)

    async def main() -> str | None:
        db = Database(settings.effective_database_url)
        try:
            await upgrade(db.engine)
            return await current_revision(db.engine)
        finally:
            await db.dispose()

    typer.echo(f"database at revision {asyncio.run(main())} (data directory {settings.data_dir})")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the database's migration revision."""
    settings = options(ctx).settings()
    require_data_dir(settings)

    async def main() -> str | None:
        db = Database(settings.effective_database_url)
        try:
            return await current_revision(db.engine)
        finally:
            await db.dispose()

    typer.echo(asyncio.run(main()) or "empty")


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    org: str | None = typer.Option(None, help="organization name or id (default all)"),
    action: str | None = typer.Option(None, help="e.g. device:revoke"),
    limit: int = typer.Option(50, min=1, max=1000),
    json_: JsonFlag = False,
) -> None:
    """List audit events, newest first."""

    async def use(services: Services) -> None:
        org_id = (await services.organizations.resolve(OPERATOR, org)).id if org else None
        events = await services.audit.list(
            OPERATOR, AuditFilter(organization_id=org_id, action=action, limit=limit)
        )
        print_rows(
            events,
            json_,
            lambda e: f"{e.at.isoformat(timespec='seconds')}\t{e.actor}\t{e.action}\t{e.target}",
        )

    run_with_services(ctx, use)


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context) -> None:
    """Add a new current key; older keys keep verifying existing device passwords."""
    settings = options(ctx).settings()
    require_data_dir(settings)
    keys = load_key_file(settings.key_file, create=False).rotated()
    write_key_file(settings.key_file, keys)
    typer.echo(f"current key is now {keys.current_id} ({len(keys.keys)} keys in the ring)")
