"""Two `mailward serve` nodes on one PostgreSQL and Redis: a device revoked through node
A's API is refused by node B (its auth endpoint, which Dovecot asks, and its IMAP server)
and B's live session of that device ends within a second."""

from __future__ import annotations

import imaplib
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from mailward.core.accounts.apitokens import ApiTokenService, IssuedApiToken
from mailward.db.models import Account, Organization
from mailward.settings import Settings
from tests.integration.dataplane import (
    INFO,
    SECRET,
    DataPlane,
    Node,
    client_tls,
    destroy_plane,
    prepare_plane,
    private_redis,
    start_node,
)
from tests.support import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def start_serve(plane: DataPlane) -> tuple[Node, int, int]:
    """A node with its own ports and the embedded servers (so it has live sessions of
    its own to end), on the plane's PostgreSQL and Redis."""
    names = ("http_port", "auth_http_port", "imap_port", "imaps_port", "pop3_port")
    names += ("pop3s_port", "submission_port", "submissions_port", "smtp_port")
    update: dict[str, object] = {name: free_port() for name in names}
    settings = Settings(**(plane.settings.model_dump() | update | {"data_plane": "embedded"}))
    node = start_node(settings)
    return node, settings.http_port, settings.imaps_port


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    import mailward.serve  # noqa: F401  (a broken serve fails this test, never skips it)

    plane = prepare_plane(redis_url=private_redis(14))
    try:
        yield plane
    finally:
        destroy_plane(plane)


def ask_auth_endpoint(port: int, password: str) -> dict[str, object]:
    body = {"user": INFO, "password": password, "service": "imap", "remote_ip": "127.0.0.1"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/auth/dovecot",
        data=json.dumps(body).encode(),
        headers={"X-Mailward-Secret": SECRET, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return dict(json.load(response))


def revoke_through_api(http_port: int, token: str, device: Any) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/api/v1/addresses/{device.device.address_id}"
        f"/devices/{device.device.id}",
        method="DELETE",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 204


def test_a_revocation_through_node_a_reaches_node_b_within_a_second(plane: DataPlane) -> None:
    node_a, http_a, _ = start_serve(plane)
    plane.nodes.append(node_a)
    node_b, _, imaps_b = start_serve(plane)
    plane.nodes.append(node_b)
    device = plane.add_device(INFO, "Two-node phone")

    async def token(services: Services) -> IssuedApiToken:
        async with services.db.unit_of_work() as uow:
            admin = await uow.session.scalar(
                select(Account).where(Account.email == "admin@corp.test")
            )
            org_id = await uow.session.scalar(select(Organization.id))
        assert admin is not None and org_id is not None
        actor = Actor(admin.id, admin.email, "127.0.0.1")
        return await ApiTokenService(services.deps).create(actor, org_id, "two-node test")

    api_token = plane.run(token)
    assert ask_auth_endpoint(node_b.auth_port, device.password)["result"] == "ok"
    session = imaplib.IMAP4_SSL("127.0.0.1", imaps_b, ssl_context=client_tls())
    try:
        session.login(INFO, device.password)
        revoke_through_api(http_a, api_token.secret, device)
        revoked_at = time.monotonic()
        while True:
            try:
                session.noop()
            except (imaplib.IMAP4.abort, OSError):
                break
            assert time.monotonic() - revoked_at < 1.0, "node B kept the session open"
            time.sleep(0.02)
    finally:
        session.shutdown()  # closed even when the assertion fails: no socket left to GC
    assert ask_auth_endpoint(node_b.auth_port, device.password)["result"] == "fail"
    assert time.monotonic() - revoked_at < 1.5
