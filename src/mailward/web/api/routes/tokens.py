"""The caller's own API tokens, in the token's organization."""

from __future__ import annotations

from fastapi import APIRouter, status

from mailward.web.api import schemas as s
from mailward.web.api.context import Api, ApiSecret
from mailward.web.api.operations import NO_CONTENT, ObjectId
from mailward.web.api.paging import Paged
from mailward.web.api.problems import problem_responses

router = APIRouter(tags=["API tokens"])


@router.get("/api-tokens", responses=problem_responses())
async def list_api_tokens(api: Api, paged: Paged) -> list[s.ApiToken]:
    """Your tokens for this organization, newest first (never their secrets), a page at
    a time (the next one is in the ``Link`` header)."""
    page = await api.tokens.page(api.actor, paged.page)
    return paged.answer(page, s.ApiToken)


@router.post("/api-tokens", status_code=status.HTTP_201_CREATED, responses=problem_responses(422))
async def create_api_token(body: s.ApiTokenIn, api: ApiSecret) -> s.NewApiToken:
    """A new token of yours for this organization; its secret is in this response only."""
    made = await api.tokens.create(api.actor, api.organization_id, body.name, body.expires_at)
    return s.NewApiToken.model_validate(made)


@router.delete("/api-tokens/{token_id}", **NO_CONTENT, responses=problem_responses(404))
async def revoke_api_token(token_id: ObjectId, api: Api) -> None:
    """Revoke one of your tokens (idempotent); it may be the one making this call."""
    await api.tokens.revoke(api.actor, token_id)
