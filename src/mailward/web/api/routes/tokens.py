"""The caller's own API tokens, in the token's organization."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from mailward.web.api import schemas as s
from mailward.web.api.context import Api, ApiSecret
from mailward.web.api.problems import problem_responses

router = APIRouter(tags=["API tokens"])
ObjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/api-tokens", responses=problem_responses())
async def list_api_tokens(api: Api) -> list[s.ApiToken]:
    """Your tokens for this organization, newest first (never their secrets)."""
    views = await api.tokens.list(api.actor)
    return [s.ApiToken.model_validate(v) for v in views]


@router.post("/api-tokens", status_code=status.HTTP_201_CREATED, responses=problem_responses(422))
async def create_api_token(body: s.ApiTokenIn, api: ApiSecret) -> s.NewApiToken:
    """A new token of yours for this organization; its secret is in this response only."""
    made = await api.tokens.create(api.actor, api.organization_id, body.name, body.expires_at)
    return s.NewApiToken.model_validate(made)


@router.delete(
    "/api-tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(404),
)
async def revoke_api_token(token_id: ObjectId, api: Api) -> None:
    """Revoke one of your tokens (idempotent); it may be the one making this call."""
    await api.tokens.revoke(api.actor, token_id)
