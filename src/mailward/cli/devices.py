"""``mailward device``: per-device passwords of an address."""

from __future__ import annotations

from typing import Any

import typer

from mailward.bootstrap import Services
from mailward.cli.runtime import (
    OPERATOR,
    JsonFlag,
    parse_when,
    print_json,
    read_password,
    run_with_services,
    split_list,
)
from mailward.core.devices.history import LoginView
from mailward.core.devices.service import DeviceOptions, DeviceView, NewDevicePassword

device_app = typer.Typer(help="Devices and their passwords.", no_args_is_help=True)

EXPIRES_HELP = "expiry date (YYYY-MM-DD, end of day UTC) or ISO 8601 time"
PROTOCOLS_HELP = "allowed protocols, comma-separated: imap,pop3,smtp (default all)"
NETWORKS_HELP = "allowed client networks, comma-separated CIDR (default any)"


def device_summary(view: DeviceView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "address": view.address,
        "user": view.user_email,
        "password_kind": view.password_kind,
        "created_by": view.created_by,
        "created_at": view.created_at,
        "password_changed_at": view.password_changed_at,
        "expires_at": view.expires_at,
        "allowed_protocols": view.allowed_protocols,
        "allowed_networks": view.allowed_networks,
        "last_used": {
            "at": view.last_used_at,
            "ip": view.last_used_ip,
            "protocol": view.last_used_protocol,
            "client": view.last_used_client,
        },
        "status": view.status,
        "revoked_at": view.revoked_at,
    }


def login_summary(login: LoginView) -> dict[str, Any]:
    """One login as ``device history --json`` prints it (an interface: keep the keys)."""
    return {
        "at": login.at,
        "ip": login.ip,
        "protocol": login.protocol,
        "client": login.client,
        "result": login.result,
    }


def show_new_password(new: NewDevicePassword, as_json: bool) -> None:
    """The only output that ever carries the password: alone on its line, or JSON."""
    if as_json:
        print_json({**device_summary(new.device), "password": new.password})
        return
    typer.echo(
        f"device {new.device.name!r} (id {new.device.id}) of {new.device.address}; "
        "its password, shown only this once:",
        err=True,
    )
    typer.echo(new.password)


@device_app.command("add")
def device_add(
    ctx: typer.Context,
    address: str,
    name: str = typer.Option(..., help="descriptive name, e.g. 'Website form, 2026-11-24'"),
    user: str | None = typer.Option(None, help="email of one of the address's users"),
    password_stdin: bool = typer.Option(False, help="read a chosen password (16+) from stdin"),
    expires: str | None = typer.Option(None, help=EXPIRES_HELP),
    protocols: str | None = typer.Option(None, help=PROTOCOLS_HELP),
    networks: str | None = typer.Option(None, help=NETWORKS_HELP),
    json_: JsonFlag = False,
) -> None:
    """Add a device and print its new password once."""
    password = read_password(True) if password_stdin else None

    async def use(services: Services) -> NewDevicePassword:
        opts = DeviceOptions(
            parse_when(expires), tuple(split_list(protocols)), tuple(split_list(networks))
        )
        return await services.devices.add(OPERATOR, address, name, user, password, None, opts)

    show_new_password(run_with_services(ctx, use), json_)


@device_app.command("list")
def device_list(
    ctx: typer.Context,
    address: str,
    all_: bool = typer.Option(
        False, "--all", help="include revoked devices, as the web manager's Devices tab does"
    ),
    json_: JsonFlag = False,
) -> None:
    """List the live devices of an address, or with --all the revoked ones too (never
    their passwords)."""

    every = run_with_services(
        ctx, lambda services: services.devices.list(OPERATOR, address, include_revoked=True)
    )
    views = every if all_ else [v for v in every if v.status != "revoked"]
    if len(views) < len(every):
        hidden = len(every) - len(views)
        typer.echo(f"{hidden} revoked device(s) not listed: --all shows them", err=True)
    if json_:
        print_json([device_summary(v) for v in views])
        return
    for view in views:
        last = view.last_used_at.isoformat(timespec="seconds") if view.last_used_at else "never"
        typer.echo(
            f"{view.id}\t{view.name}\t{view.user_email or 'Without user'}\t"
            f"{view.password_kind}\t{view.status}\tlast used {last}"
        )


@device_app.command("password")
def device_password(
    ctx: typer.Context,
    address: str,
    device: str,
    password_stdin: bool = typer.Option(False, help="read a chosen password (16+) from stdin"),
    json_: JsonFlag = False,
) -> None:
    """Replace a device's password (the old one stops working at once) and print it once."""
    password = read_password(True) if password_stdin else None

    changed = run_with_services(
        ctx, lambda services: services.devices.change_password(OPERATOR, address, device, password)
    )
    show_new_password(changed, json_)


@device_app.command("rename")
def device_rename(ctx: typer.Context, address: str, device: str, new_name: str) -> None:
    """Rename a device."""

    view = run_with_services(
        ctx, lambda services: services.devices.rename(OPERATOR, address, device, new_name)
    )
    typer.echo(f"device {view.id} is now named {view.name!r}")


@device_app.command("options")
def device_options(
    ctx: typer.Context,
    address: str,
    device: str,
    expires: str | None = typer.Option(None, help=EXPIRES_HELP + "; 'never' to clear"),
    protocols: str | None = typer.Option(None, help=PROTOCOLS_HELP),
    networks: str | None = typer.Option(None, help=NETWORKS_HELP + "; 'any' to clear"),
) -> None:
    """Change a device's expiry, allowed protocols or allowed networks."""

    async def use(services: Services) -> DeviceView:
        current = await services.devices.get(OPERATOR, address, device)
        opts = DeviceOptions(
            current.expires_at
            if expires is None
            else (None if expires == "never" else parse_when(expires)),
            tuple(split_list(protocols)) if protocols else tuple(current.allowed_protocols),
            tuple(current.allowed_networks)
            if networks is None
            else (() if networks == "any" else tuple(split_list(networks))),
        )
        return await services.devices.set_options(OPERATOR, address, device, opts)

    view = run_with_services(ctx, use)
    typer.echo(
        f"device {view.name!r}: protocols {','.join(view.allowed_protocols)}; "
        f"networks {','.join(view.allowed_networks) or 'any'}; "
        f"expires {view.expires_at.isoformat() if view.expires_at else 'never'}"
    )


@device_app.command("revoke")
def device_revoke(ctx: typer.Context, address: str, device: str) -> None:
    """Revoke one device; every other device keeps working."""

    view = run_with_services(
        ctx, lambda services: services.devices.revoke(OPERATOR, address, device)
    )
    typer.echo(f"device {view.name!r} (id {view.id}) of {view.address} is revoked")


@device_app.command("history")
def device_history(
    ctx: typer.Context,
    address: str,
    device: str,
    limit: int = typer.Option(100, help="how many logins, newest first (at most 1000)"),
    json_: JsonFlag = False,
) -> None:
    """A device's last logins, newest first: time, client IP, protocol, client, result
    (ok, or wrong: its right password refused for the device's scope). Identical
    logins between two flushes are one entry. Wrong passwords name no device."""

    logins = run_with_services(
        ctx, lambda services: services.device_history.history(OPERATOR, address, device, limit)
    )
    if json_:
        print_json([login_summary(h) for h in logins])
        return
    if not logins:
        typer.echo("no logins recorded", err=True)
    for h in logins:
        times = f" (x{h.count})" if h.count > 1 else ""
        typer.echo(
            f"{h.at.isoformat(timespec='seconds')}\t{h.ip}\t{h.protocol}\t"
            f"{h.client or '-'}\t{h.result}{times}"
        )
