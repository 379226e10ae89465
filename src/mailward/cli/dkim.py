"""``mailward dkim list|rotate|remove`` and ``mailward dns DOMAIN [--json]``."""

from __future__ import annotations

import json

import typer

from mailward.bootstrap import Services
from mailward.cli.runtime import OPERATOR, JsonFlag, print_rows, run_with_services
from mailward.core.mailservices.dkim import DkimKeyView

dkim_app = typer.Typer(help="DKIM signing keys of a Mail Service.", no_args_is_help=True)


def _key_line(key: DkimKeyView) -> str:
    state = "active" if key.active else "retired"
    return f"{key.selector}\t{key.algorithm}\t{state}\t{key.record_name} TXT {key.record_value}"


@dkim_app.command("list")
def dkim_list(ctx: typer.Context, domain: str, json_: JsonFlag = False) -> None:
    """The domain's keys (active ones sign) with the TXT record to publish for each."""

    keys = run_with_services(ctx, lambda services: services.dkim.list_keys(OPERATOR, domain))
    print_rows(keys, json_, _key_line)


@dkim_app.command("rotate")
def dkim_rotate(ctx: typer.Context, domain: str) -> None:
    """Make a new key pair that signs from now on; the old pair is retired, not removed."""

    for key in run_with_services(ctx, lambda services: services.dkim.rotate(OPERATOR, domain)):
        typer.echo(_key_line(key))
    typer.echo("publish the new records; remove a retired selector once its mail is delivered")


@dkim_app.command("remove")
def dkim_remove(ctx: typer.Context, domain: str, selector: str) -> None:
    """Remove a retired key (then remove its record from the zone)."""

    key = run_with_services(ctx, lambda services: services.dkim.remove(OPERATOR, domain, selector))
    typer.echo(f"removed {key.selector}; remove {key.record_name} from the zone")


def dns(
    ctx: typer.Context,
    domain: str,
    json_: bool = typer.Option(False, "--json", help="[{name, type, value, purpose}]"),
) -> None:
    """Every DNS record the domain needs, as zone-file lines; a warning (on stderr) for
    each record left out because it would point at an IP address."""

    async def use(services: Services) -> tuple[list[dict[str, str]], list[str]]:
        _, records = await services.dns_records.records(OPERATOR, domain)
        rows = [r.as_json() | {"zone_line": r.zone_line} for r in records]
        return rows, services.dns_records.warnings()

    records, warnings = run_with_services(ctx, use)
    for warning in warnings:  # on stderr: the records stay a zone file, or JSON
        typer.echo(f"warning: {warning}", err=True)
    if json_:
        fields = ("name", "type", "value", "purpose")
        typer.echo(json.dumps([{k: r[k] for k in fields} for r in records], indent=2))
        return
    for record in records:
        typer.echo(f"; {record['purpose']}")
        typer.echo(record["zone_line"])
