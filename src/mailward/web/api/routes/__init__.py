"""``/api/v1``: every route, each a call of one use case."""

from __future__ import annotations

from fastapi import APIRouter

from mailward.web.api.problems import problem_responses
from mailward.web.api.routes import audit, devices, mail, orgs, tokens

router = APIRouter(responses=problem_responses(401, 429))
for _module in (orgs, mail, devices, audit, tokens):
    router.include_router(_module.router)
