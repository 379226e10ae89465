"""``mailward mailservice`` and ``mailward address``."""

from __future__ import annotations

import typer

from mailward.bootstrap import Services
from mailward.cli.runtime import (
    OPERATOR,
    JsonFlag,
    Organization,
    print_rows,
    run_for_organization,
    run_with_services,
)
from mailward.core.organizations.service import OrganizationView

mailservice_app = typer.Typer(help="Mail Services: one per domain.", no_args_is_help=True)
address_app = typer.Typer(help="Email addresses of a Mail Service.", no_args_is_help=True)
address_user_app = typer.Typer(help="Users of an address.", no_args_is_help=True)
address_app.add_typer(address_user_app, name="user")


@mailservice_app.command("create")
def mailservice_create(ctx: typer.Context, domain: str, org: Organization) -> None:
    """Order a Mail Service for a domain."""

    async def use(services: Services, organization: OrganizationView) -> None:
        view = await services.mail_services.create(OPERATOR, organization.id, domain)
        typer.echo(f"mail service {view.domain} created for {organization.name}")

    run_for_organization(ctx, org, use)


@mailservice_app.command("list")
def mailservice_list(
    ctx: typer.Context,
    org: Organization,
    json_: JsonFlag = False,
) -> None:
    """List an organization's Mail Services."""

    views = run_for_organization(
        ctx, org, lambda services, found: services.mail_services.list(OPERATOR, found.id)
    )
    print_rows(views, json_, lambda v: f"{v.domain}\t{v.state}\t{v.address_count} addresses")


@mailservice_app.command("verify")
def mailservice_verify(ctx: typer.Context, domain: str) -> None:
    """Look a pending domain's TXT record up once and print its state."""

    async def use(services: Services) -> None:
        view = await services.domain_checks.check(OPERATOR, domain)
        typer.echo(f"{view.domain}: {view.state}")
        if view.state == "pending" and view.record is not None:
            typer.echo(view.check_message)
            typer.echo(f"publish: {view.record.zone_line}")

    run_with_services(ctx, use)


@address_app.command("create")
def address_create(
    ctx: typer.Context, email: str, name: str = typer.Option("", help="display name")
) -> None:
    """Create LOCAL@DOMAIN on the domain's Mail Service."""

    async def use(services: Services) -> None:
        view = await services.addresses.create_by_email(OPERATOR, email, name)
        typer.echo(f"address {view.email} created")

    run_with_services(ctx, use)


@address_app.command("list")
def address_list(
    ctx: typer.Context,
    domain: str,
    search: str = typer.Option("", help="part of the address or name"),
    cursor: str = typer.Option("", help="the next page's cursor, as printed after a page"),
    json_: JsonFlag = False,
) -> None:
    """List the addresses of a Mail Service, a page at a time."""

    async def use(services: Services) -> None:
        result = await services.addresses.page(OPERATOR, domain, search, cursor or None)
        print_rows(result.items, json_, lambda v: v.email)
        if result.next_cursor:
            typer.echo(f"more: --cursor {result.next_cursor}", err=True)

    run_with_services(ctx, use)


@address_user_app.command("add")
def address_user_add(ctx: typer.Context, address: str, email: str) -> None:
    """Make an account (created as invited if new) a user of ADDRESS."""

    async def use(services: Services) -> None:
        user = await services.addresses.add_user(OPERATOR, address, email)
        typer.echo(f"{user.email} is now a user of {address}")

    run_with_services(ctx, use)


@address_user_app.command("remove")
def address_user_remove(ctx: typer.Context, address: str, email: str) -> None:
    """Remove a user from ADDRESS (their devices keep working until revoked)."""

    async def use(services: Services) -> None:
        await services.addresses.remove_user(OPERATOR, address, email)
        typer.echo(f"{email} is no longer a user of {address}")

    run_with_services(ctx, use)
