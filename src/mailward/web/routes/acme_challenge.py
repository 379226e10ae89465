"""``GET /.well-known/acme-challenge/TOKEN``: the HTTP-01 answers of a pending ACME order
(:mod:`mailward.ops.certificates`), read from the data directory so that ``mailward
certs issue`` in another process is answered by the running web listener."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mailward.ops.certificates import challenge_answer
from mailward.web.state import web_state

router = APIRouter()


@router.get("/.well-known/acme-challenge/{token}", include_in_schema=False)
async def acme_challenge(request: Request, token: str) -> Response:
    answer = challenge_answer(web_state(request).services.settings.tls_dir, token)
    if answer is None:
        return Response("no such challenge\n", status_code=404, media_type="text/plain")
    return Response(answer, media_type="application/octet-stream")
