"""Finding 3: a secret-producing route skipped re-authentication (re-sending a setup
assistant). Now every route that shows a new secret carries the one mark that checks the
sudo window (``SudoFor`` in the manager, ``secret_caller`` in the API); the route table
is walked so that a new route that shows a secret without it fails here."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import Mount

from mailward.clock import FrozenClock
from mailward.core.invitations.service import InvitationService
from mailward.web.api.context import secret_caller
from mailward.web.app import create_app
from mailward.web.state import TEMPLATES_DIR, secret_kind
from mailward.web.viewer import SudoFor
from tests.support import ADMIN_PASSWORD, World, accept_offers
from tests.web_support import (
    SignedInClient,
    csrf_of,
    signed_in_admin,
)

# Response fields that carry a secret in clear (API): a str field of one of these names.
SECRET_FIELDS = {"password", "secret", "link", "token", "codes", "recovery_codes", "uri"}
# Pages shown right after the person typed their own password in the same flow, and
# the phone's one-time download of what that flow just showed (its one-use secret,
# from the QR code on that page, is the only way in).
SIGN_IN_FLOWS = {
    "mailward.web.routes.signin",
    "mailward.web.assistant.invited",
    "mailward.web.assistant.phone",
}
SHOWS_SECRET = re.compile(
    r"\{\{\s*(secret|link|password|token_secret|shown_secret)\b|for code in codes"
)


# -- finding 3, end to end ------------------------------------------------------------


async def _manager_with_invitation(world: World, clock: FrozenClock) -> tuple[Any, ...]:
    services = world.services
    aid = (await services.addresses.get(world.admin, world.address)).id
    await services.addresses.add_user(world.admin, aid, "user@corp.test")
    await accept_offers(services, world.user)
    invitations = InvitationService(services.deps, services.devices)
    made = await invitations.create(world.admin, aid, "user@corp.test", "Ursula's phone")
    return await signed_in_admin(world, clock), aid, made, invitations


async def test_resending_a_setup_assistant_asks_for_the_password_again(
    world: World, clock: FrozenClock
) -> None:
    admin, aid, made, invitations = await _manager_with_invitation(world, clock)
    assert isinstance(admin, SignedInClient)
    resend = f"/addresses/{aid}/invitations/{made.invitation.id}/resend"
    clock.advance(timedelta(minutes=world.services.settings.sudo_minutes, seconds=1))
    asked = await admin.post_form(f"/addresses/{aid}/devices", resend, {})
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/sudo?next=/addresses/{aid}/devices"
    assert "/invite/" not in asked.text
    assert (await invitations.open(made.token)).id == made.invitation.id  # link unchanged
    sudo = await admin.get(asked.headers["location"])
    granted = await admin.client.post(
        "/sudo",
        data={"csrf": csrf_of(sudo.text), "password": ADMIN_PASSWORD, "next": "/dashboard"},
    )
    assert granted.status_code == 303
    shown = await admin.post_form(f"/addresses/{aid}/devices", resend, {})
    await admin.client.aclose()
    assert shown.status_code == 200 and "/invite/" in shown.text
    assert shown.headers["cache-control"] == "no-store"


# -- the route table --------------------------------------------------------------------


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every route of the manager and of the mounted API, through included routers
    (FastAPI keeps those as objects holding the original router)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif isinstance(route, Mount) and isinstance(route.app, FastAPI):
            yield from _routes(route.app.routes)
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _reauthenticates(route: APIRoute) -> bool:
    return any(isinstance(c, SudoFor) or c is secret_caller for c in _calls(route.dependant))


def _templates(function: Callable[..., object], seen: set[object] | None = None) -> set[str]:
    """Template names in ``function`` and in the web functions it calls, transitively."""
    seen = seen if seen is not None else set()
    if function in seen or not getattr(function, "__module__", "").startswith("mailward.web"):
        return set()
    seen.add(function)
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.endswith(".html"):
                found |= {n for n in (node.value, f"assistant/{node.value}") if _exists(n)}
        elif isinstance(node, ast.Name):
            target = function.__globals__.get(node.id)
            if inspect.isfunction(target):
                found |= _templates(target, seen)
    return found


def _exists(name: str) -> bool:
    return (TEMPLATES_DIR / name).is_file()


def _secret_fields(model: object, depth: int = 0) -> set[str]:
    if not (inspect.isclass(model) and issubclass(model, BaseModel)) or depth > 4:
        return set()
    found = set()
    for name, info in model.model_fields.items():
        if name in SECRET_FIELDS and info.annotation is str:
            found.add(name)
        found |= _secret_fields(info.annotation, depth + 1)
    return found


def _all_routes(world: World) -> list[APIRoute]:
    routes = list(_routes(create_app(world.services).routes))
    assert any(r.path.startswith("/addresses/{address_id}/devices") for r in routes)
    return routes


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_page_showing_a_secret_asks_for_the_password_again(world: World) -> None:
    checked = set()
    for route in _all_routes(world):
        kinds = {secret_kind(t) for t in _templates(route.endpoint)}
        if "sudo" in kinds:
            assert _reauthenticates(route), f"{route.path} shows a secret without SudoFor"
            checked.add(route.path)
        if "sign-in" in kinds:
            assert route.endpoint.__module__ in SIGN_IN_FLOWS, route.path
    # The walk does find them (it cannot pass by finding nothing).
    assert "/addresses/{address_id}/invitations/{invitation_id}/resend" in checked
    assert "/addresses/{address_id}/devices/new" in checked
    assert "/account/api-tokens" in checked


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_api_operation_returning_a_secret_is_marked(world: World) -> None:
    marked = set()
    for route in _all_routes(world):
        if _secret_fields(route.response_model):
            assert _reauthenticates(route), f"{route.path} returns a secret unmarked"
            marked.add(route.path)
    assert "/addresses/{address_id}/invitations/{invitation_id}/resend" in marked
    assert "/api-tokens" in marked


def test_every_template_that_shows_a_secret_says_so() -> None:
    unmarked = [
        str(path.relative_to(TEMPLATES_DIR))
        for path in TEMPLATES_DIR.rglob("*.html")
        if SHOWS_SECRET.search(path.read_text(encoding="utf-8"))
        and secret_kind(str(path.relative_to(TEMPLATES_DIR))) is None
    ]
    assert unmarked == []
