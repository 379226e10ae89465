"""``mailward address move`` and ``mailward address placement``: which mailbox backend
holds an address's mail (Dovecot proxies in front of several backends)."""

from __future__ import annotations

import typer

from mailward.bootstrap import Services
from mailward.cli.runtime import OPERATOR, run_with_services
from mailward.integrations.mailbox_move import DoveadmMailboxMover


def address_move(
    ctx: typer.Context,
    address: str,
    to: str = typer.Option(..., "--to", help="name of the backend in mailbox_backends"),
) -> None:
    """Move ADDRESS's mailbox to another backend while it is in use: doveadm sync,
    switch the placement, sync again, end the sessions on the old backend (clients
    reconnect through the proxies to the new one), sync what changed meanwhile. The old
    backend keeps its copy until you delete it."""

    async def use(services: Services) -> None:
        mover = DoveadmMailboxMover(services.settings.mailbox_backends)
        before = await services.placements.placement(OPERATOR, address)
        view = await services.placements.move(OPERATOR, address, to, mover)
        typer.echo(f"{view.email} moved from {before.backend} to {view.backend}")

    run_with_services(ctx, use)


def address_placement(ctx: typer.Context, address: str) -> None:
    """Print the mailbox backend holding ADDRESS ("this machine" without backends)."""

    async def use(services: Services) -> None:
        view = await services.placements.placement(OPERATOR, address)
        typer.echo(f"{view.email}\t{view.backend or 'this machine'}")

    run_with_services(ctx, use)
