"""Shared pieces of the API tests: an app with the API mounted, tokens for every kind
of caller, and a second organization whose objects must stay out of reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from fastapi import FastAPI

from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from mailward.core.accounts.apitokens import ApiTokenService
from mailward.core.invitations.service import InvitationService
from mailward.limitstore import MemoryRateLimitStore
from mailward.web.api import install_api
from mailward.web.api.limits import ApiRateLimiter, Limit
from tests.passkey_authenticator import register_passkey
from tests.support import ADMIN_PASSWORD, World

GENEROUS = (
    Limit("api.ip", 100_000, 60.0),
    Limit("api.ip.bad_token", 100_000, 60.0),
    Limit("api.token", 100_000, 60.0),
)
CALLERS = ("legal", "admin", "user", "other", "none", "unknown", "revoked", "expired")
UNAUTHENTICATED = ("none", "unknown", "revoked", "expired")


@dataclass
class ApiWorld:
    """Corp (from ``make_world``) plus Other: one token per kind of caller, and the ids
    of both organizations' objects."""

    world: World
    client: httpx.AsyncClient
    tokens: dict[str, str | None]
    ids: dict[str, int] = field(default_factory=dict)

    def headers(self, caller: str) -> dict[str, str]:
        token = self.tokens[caller]
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def call(
        self, caller: str, method: str, path: str, body: object | None = None
    ) -> httpx.Response:
        return await self.client.request(
            method, "/api/v1" + path.format(**self.ids), json=body, headers=self.headers(caller)
        )


def api_app(world: World, limiter: ApiRateLimiter | None = None) -> FastAPI:
    app = FastAPI()
    install_api(app, world.services, limiter or ApiRateLimiter(MemoryRateLimitStore(), GENEROUS))
    return app


def invitations_of(world: World) -> InvitationService:
    return InvitationService(world.services.deps, world.services.devices)


async def _other_organization(world: World, ids: dict[str, int]) -> Actor:
    services, op = world.services, Actor.operator()
    owner = await services.accounts.create(op, "owner@other.test", ADMIN_PASSWORD, "Otto")
    org = await services.organizations.create(op, "Other", legal_representative=owner.email)
    ms = await services.mail_services.create(op, org.id, "other.test")
    address = await services.addresses.create(op, ms.id, "info")
    device = await services.devices.add(op, address.id, "Other phone")
    await services.addresses.add_user(op, address.id, owner.email)
    invitation = await invitations_of(world).create(op, address.id, owner.email, "Otto laptop")
    ids.update(other_org=org.id, other_ms=ms.id, other_addr=address.id, other_dev=device.device.id)
    ids["other_inv"] = invitation.invitation.id
    return Actor(owner.id, owner.email, "192.0.2.9")


async def _corp_objects(world: World, ids: dict[str, int]) -> None:
    services, op = world.services, Actor.operator()
    await services.accounts.create(op, "newbie@corp.test", ADMIN_PASSWORD, "Nina Newbie")
    address = await services.addresses.get(op, world.address)
    await services.addresses.add_user(op, address.id, "user@corp.test")
    device = await services.devices.add(op, address.id, "Front desk")
    own = await services.devices.add(op, address.id, "Ursula phone", user_email="user@corp.test")
    invitation = await invitations_of(world).create(op, address.id, "user@corp.test", "Tablet")
    ids["inv"] = invitation.invitation.id
    ids["legal_passkey"] = (await register_passkey(services, world.legal, "Lena's key"))[1]
    ids.update(
        org=world.org_id,
        ms=address.mail_service_id,
        addr=address.id,
        dev=device.device.id,
        udev=own.device.id,
    )


async def make_api_world(
    world: World, clock: FrozenClock, app: FastAPI | None = None
) -> AsyncIterator[ApiWorld]:
    ids: dict[str, int] = {}
    await _corp_objects(world, ids)
    other = await _other_organization(world, ids)
    ids["other_passkey"] = (await register_passkey(world.services, other, "Otto's key"))[1]
    tokens = ApiTokenService(world.services.deps)
    issued = {
        "legal": await tokens.create(world.legal, world.org_id, "legal"),
        "admin": await tokens.create(world.admin, world.org_id, "admin"),
        "user": await tokens.create(world.user, world.org_id, "user"),
        "other": await tokens.create(other, ids["other_org"], "other"),
        "revoked": await tokens.create(world.admin, world.org_id, "revoked"),
        "spare": await tokens.create(world.legal, world.org_id, "spare"),
    }
    await tokens.revoke(world.admin, issued["revoked"].token.id)
    soon = clock.now() + timedelta(hours=1)
    expired = await tokens.create(world.admin, world.org_id, "expired", expires_at=soon)
    clock.advance(timedelta(hours=2))
    ids["legal_spare_token"] = issued["spare"].token.id
    ids["other_token"] = issued["other"].token.id
    secrets: dict[str, str | None] = {k: v.secret for k, v in issued.items()}
    secrets.update(none=None, unknown="mwt_" + "A" * 43, expired=expired.secret)
    transport = httpx.ASGITransport(app=app or api_app(world))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield ApiWorld(world, client, secrets, ids)
