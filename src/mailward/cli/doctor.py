"""``mailward doctor [DOMAIN] [--json]``: one line per check, exit 1 when one fails."""

from __future__ import annotations

import json

import typer

from mailward.cli.runtime import run_with_services
from mailward.core.mailservices.doctor import worst

LABELS = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL"}


def doctor(
    ctx: typer.Context,
    domain: str | None = typer.Argument(
        None, help="a Mail Service's domain (default: every verified one)"
    ),
    json_: bool = typer.Option(False, "--json", help='{"checks": [{name, status, detail}]}'),
) -> None:
    """Check DNS records, certificate, ports and the host's forward/reverse DNS."""
    from mailward.doctor import diagnose  # lookups only for this command

    checks = run_with_services(ctx, lambda services: diagnose(services, domain))
    if json_:
        typer.echo(json.dumps({"checks": [c.as_json() for c in checks]}, indent=2))
    else:
        for check in checks:
            typer.echo(f"{LABELS[check.status]} {check.name}: {check.detail}")
    if worst(checks) == "fail":
        raise typer.Exit(1)
