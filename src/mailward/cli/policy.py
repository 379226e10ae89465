"""``mailward org policy``: an organization's policy on devices (login history kept,
unused devices noticed then revoked)."""

from __future__ import annotations

import typer

from mailward.bootstrap import Services
from mailward.cli.runtime import OPERATOR, JsonFlag, print_json, run_with_services
from mailward.core.organizations.policy import DevicePolicy, PolicyChange


def policy_summary(policy: DevicePolicy) -> dict[str, object]:
    return {
        "organization": policy.organization,
        "login_history_days": policy.login_history_days,
        "unused_expiry": policy.expires_unused,
        "unused_notice_days": policy.unused_notice_days,
        "unused_revoke_days": policy.unused_revoke_days,
    }


def policy_line(policy: DevicePolicy) -> str:
    expiry = (
        f"unused devices: notice after {policy.unused_notice_days} days, revoked after "
        f"{policy.unused_revoke_days}"
        if policy.expires_unused
        else "unused devices never expire"
    )
    return f"{policy.organization}: login history kept {policy.login_history_days} days; {expiry}"


def org_policy(
    ctx: typer.Context,
    org: str = typer.Argument(..., help="organization name or id"),
    unused_notice_days: int | None = typer.Option(
        None, help="days without a login before the device's user is told (default 90)"
    ),
    unused_revoke_days: int | None = typer.Option(
        None, help="days without a login before the device is revoked (default 120)"
    ),
    off: bool = typer.Option(False, "--off", help="unused devices never expire"),
    history_days: int | None = typer.Option(None, help="days of login history kept (90)"),
    json_: JsonFlag = False,
) -> None:
    """Show an organization's device policy, or change it with the options."""
    change = PolicyChange(unused_notice_days, unused_revoke_days, history_days, off)

    async def use(services: Services) -> DevicePolicy:
        if change == PolicyChange():
            return await services.policies.get(OPERATOR, org)
        return await services.policies.set(OPERATOR, org, change)

    policy = run_with_services(ctx, use)
    if json_:
        print_json(policy_summary(policy))
    else:
        typer.echo(policy_line(policy))
