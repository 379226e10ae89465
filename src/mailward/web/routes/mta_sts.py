"""``GET /.well-known/mta-sts.txt`` on ``mta-sts.DOMAIN``: the MTA-STS policy (RFC 8461)
of a verified Mail Service; any other host name gets 404. The policy itself (mode, mx,
max_age) comes from the settings, never from the request."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mailward.web.state import web_state

router = APIRouter()


@router.get("/.well-known/mta-sts.txt", include_in_schema=False)
async def mta_sts_policy(request: Request) -> Response:
    host = request.headers.get("host", "")
    policy = await web_state(request).services.dns_records.mta_sts_policy_for(host)
    if policy is None:
        return Response("no MTA-STS policy for this host\n", 404, media_type="text/plain")
    return Response(policy, media_type="text/plain")
