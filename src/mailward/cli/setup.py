"""``mailward init``, ``account``, ``org``: people and organizations."""

from __future__ import annotations

import typer

from mailward.bootstrap import Services
from mailward.cli.policy import org_policy
from mailward.cli.runtime import (
    OPERATOR,
    JsonFlag,
    Organization,
    print_rows,
    read_password,
    run_for_organization,
    run_with_services,
)
from mailward.core.organizations.service import OrganizationView
from mailward.core.passwords import generate_password

account_app = typer.Typer(
    help="Accounts: the people who sign in to the manager.", no_args_is_help=True
)
org_app = typer.Typer(help="Organizations and their members.", no_args_is_help=True)
member_app = typer.Typer(help="Members of an organization and their roles.", no_args_is_help=True)
org_app.add_typer(member_app, name="member")
org_app.command("policy")(org_policy)


def init(
    ctx: typer.Context,
    email: str = typer.Option(..., help="login of the first account"),
    org: str = typer.Option(..., help="name of the first organization"),
    name: str = typer.Option("", help="display name of the first account"),
    password_stdin: bool = typer.Option(False, help="read the password from standard input"),
) -> None:
    """Create the data directory, the database, the first account and organization
    (that account becomes its legal representative)."""
    password = read_password(password_stdin)

    async def use(services: Services) -> None:
        account = await services.accounts.create(OPERATOR, email, password, name)
        await services.organizations.create(OPERATOR, org, legal_representative=account.email)
        typer.echo(
            f"Initialised {services.settings.data_dir}: {account.email} is legal "
            f"representative of {org}."
        )
        typer.echo("Next: mailward mailservice create DOMAIN --org ORG")

    run_with_services(ctx, use, creates_data_dir=True)


@account_app.command("create")
def account_create(
    ctx: typer.Context,
    email: str,
    name: str = typer.Option("", help="display name"),
    password_stdin: bool = typer.Option(False, help="read the password from standard input"),
    invited: bool = typer.Option(False, help="no password yet: the person sets it on invitation"),
) -> None:
    """Create an account."""
    password = None if invited else read_password(password_stdin)

    async def use(services: Services) -> None:
        account = await services.accounts.create(OPERATOR, email, password, name)
        typer.echo(f"account {account.email} created ({account.status})")

    run_with_services(ctx, use)


@org_app.command("create")
def org_create(
    ctx: typer.Context,
    name: str,
    legal_representative: str = typer.Option(..., "--legal-representative", help="account email"),
) -> None:
    """Create an organization with its legal representative."""

    async def use(services: Services) -> None:
        view = await services.organizations.create(OPERATOR, name, legal_representative)
        typer.echo(f"organization {view.name} created (id {view.id})")

    run_with_services(ctx, use)


@org_app.command("list")
def org_list(ctx: typer.Context, json_: JsonFlag = False) -> None:
    """List organizations."""

    async def use(services: Services) -> None:
        views = await services.organizations.list_for(OPERATOR)
        print_rows(views, json_, lambda v: f"{v.id}\t{v.name}")

    run_with_services(ctx, use)


@member_app.command("add")
def member_add(
    ctx: typer.Context,
    email: str,
    org: Organization,
    role: str = typer.Option(..., help="legal_representative, administrator or user"),
) -> None:
    """Add an account to an organization with a role."""

    async def use(services: Services, organization: OrganizationView) -> None:
        member = await services.organizations.add_member(OPERATOR, organization.id, email, role)
        typer.echo(f"{member.email} is now {member.role} of {organization.name}")

    run_for_organization(ctx, org, use)


@member_app.command("list")
def member_list(
    ctx: typer.Context,
    org: Organization,
    json_: JsonFlag = False,
) -> None:
    """List the members of an organization."""

    members = run_for_organization(
        ctx, org, lambda services, found: services.organizations.members(OPERATOR, found.id)
    )
    print_rows(members, json_, lambda m: f"{m.email}\t{m.role}")


DEMO_EMAIL = "admin@example.test"


def quickstart(ctx: typer.Context) -> None:
    """First run on embedded defaults: when the data directory is empty, create a demo
    organization (Example, example.test, demo@example.test with one device) and print
    how to sign in. Does nothing when an account already exists."""

    async def use(services: Services) -> None:
        if await services.organizations.list_for(OPERATOR):
            data_dir = services.settings.data_dir.resolve()
            typer.echo(
                f"Data directory {data_dir} is already set up; its demo password was "
                "printed by the first run only and is never shown again.\n"
                f"Sign in as {DEMO_EMAIL} with it. For a new demo with a new password, stop "
                f"Mailward, move the data directory away (mv {data_dir} {data_dir}.old) "
                "and run scripts/run again."
            )
            return
        password = generate_password(24)
        account = await services.accounts.create(OPERATOR, DEMO_EMAIL, password, "Demo Admin")
        org = await services.organizations.create(OPERATOR, "Example", account.email)
        await services.mail_services.create(OPERATOR, org.id, "example.test")
        await services.addresses.create_by_email(OPERATOR, "demo@example.test", "Demo")
        device = await services.devices.add(OPERATOR, "demo@example.test", "Quick start device")
        settings = services.settings
        typer.echo("Demo organization created. These secrets are shown only this once:")
        typer.echo(f"  web manager  {settings.effective_public_url}/  {DEMO_EMAIL} / {password}")
        typer.echo(
            f"  mail client  demo@example.test / {device.password}  "
            f"(IMAP {settings.hostname}:{settings.imaps_port} TLS, "
            f"SMTP {settings.hostname}:{settings.submissions_port} TLS)"
        )

    run_with_services(ctx, use, creates_data_dir=True)
