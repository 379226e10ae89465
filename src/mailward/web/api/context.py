"""Who is calling: the bearer token becomes an :class:`Actor` confined to its
organization, after the rate limits and before any use case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from mailward.core.accounts.apitokens import ApiTokenService, InvalidApiToken
from mailward.core.networks import client_network
from mailward.web.api.limits import ApiRateLimiter
from mailward.web.clientip import client_ip

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiToken",
    bearerFormat="mwt_…",
    description="A personal API token, made in the manager or with POST /api-tokens.",
)


@dataclass
class ApiState:
    services: Services
    tokens: ApiTokenService
    limiter: ApiRateLimiter


@dataclass(frozen=True)
class Caller:
    """The use cases and the actor a request runs them as."""

    services: Services
    tokens: ApiTokenService
    actor: Actor
    token_id: int

    @property
    def organization_id(self) -> int:
        assert self.actor.organization_id is not None
        return self.actor.organization_id


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    state = api_state(request)
    ip = client_ip(request)
    network = client_network(ip, state.services.settings.ipv6_prefix_length)
    await state.limiter.hit("api.ip", network)
    if credentials is None:
        raise InvalidApiToken()
    await state.limiter.check("api.ip.bad_token", network)
    try:
        grant = await state.tokens.authenticate(credentials.credentials)
    except InvalidApiToken:
        await state.limiter.hit("api.ip.bad_token", network)
        raise
    await state.limiter.hit("api.token", str(grant.token_id))
    return Caller(state.services, state.tokens, grant.actor(ip), grant.token_id)


Api = Annotated[Caller, Depends(current_caller)]


async def secret_caller(caller: Api, response: Response) -> Caller:
    """The dependency of every operation whose response holds a new secret (device
    password, setup-assistant link, API token). A bearer token is checked in full on
    every request, which is the API's re-authentication: there is no session to
    outlive a sudo window. This marks the operation (the route-table test looks for
    it) and makes its response uncacheable."""
    response.headers["Cache-Control"] = "no-store"
    return caller


ApiSecret = Annotated[Caller, Depends(secret_caller)]
