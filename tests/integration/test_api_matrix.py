"""The access-control matrix: every endpoint x every kind of caller -> one status.

Rows run in order on a fresh world per caller, so a manager's writes (add, then change,
then remove) each succeed once, and a refused caller's writes change nothing.
"""

from __future__ import annotations

import pytest

from mailward.core.access.actors import Actor
from mailward.web.api import openapi_document
from tests.integration.api_world import (
    CALLERS,
    UNAUTHENTICATED,
    ApiWorld,
    invitations_of,
)

# method, path, body, expected status for (legal, admin, user, other organization)
Row = tuple[str, str, dict[str, object] | None, tuple[int, int, int, int]]
NEWBIE = "/organizations/{org}/members/newbie@corp.test"
DEVICE = "/addresses/{addr}/devices/{dev}"
OWN_DEVICE = "/addresses/{addr}/devices/{udev}"
INVITATION = "/addresses/{addr}/invitations/{inv}"
MATRIX: list[Row] = [
    ("GET", "/organizations", None, (200, 200, 200, 200)),
    ("GET", "/organizations/{org}", None, (200, 200, 200, 404)),
    ("GET", "/organizations/{org}/members", None, (200, 200, 200, 404)),
    (
        "POST",
        "/organizations/{org}/members",
        {"email": "newbie@corp.test", "role": "user"},
        (201, 201, 403, 404),
    ),
    ("PUT", NEWBIE + "/role", {"role": "administrator"}, (204, 204, 403, 404)),
    ("DELETE", NEWBIE, None, (204, 204, 403, 404)),
    ("DELETE", NEWBIE, None, (204, 204, 403, 404)),
    ("GET", "/organizations/{org}/mail-services", None, (200, 200, 200, 404)),
    ("POST", "/organizations/{org}/mail-services", {"domain": "new.test"}, (201, 201, 403, 404)),
    ("GET", "/mail-services/{ms}", None, (200, 200, 200, 404)),
    ("POST", "/mail-services/{ms}/verify", None, (200, 200, 403, 404)),
    ("GET", "/mail-services/{ms}/addresses?search=info", None, (200, 200, 200, 404)),
    ("POST", "/mail-services/{ms}/addresses", {"local_part": "sales"}, (201, 201, 403, 404)),
    ("GET", "/addresses/{addr}", None, (200, 200, 200, 404)),
    ("GET", "/addresses/{addr}/users", None, (200, 200, 200, 404)),
    ("POST", "/addresses/{addr}/users", {"email": "temp@corp.test"}, (201, 201, 403, 404)),
    ("DELETE", "/addresses/{addr}/users/temp@corp.test", None, (204, 204, 403, 404)),
    ("GET", "/addresses/{addr}/devices", None, (200, 200, 200, 404)),
    ("POST", "/addresses/{addr}/devices", {"name": "Laptop"}, (201, 201, 403, 404)),
    ("GET", DEVICE, None, (200, 200, 404, 404)),
    ("GET", OWN_DEVICE, None, (200, 200, 200, 404)),
    ("POST", DEVICE + "/password", {}, (200, 200, 403, 404)),
    ("PUT", DEVICE + "/access", {"protocols": ["imap", "smtp"]}, (200, 200, 403, 404)),
    ("GET", "/addresses/{addr}/invitations", None, (200, 200, 403, 404)),
    (
        "POST",
        "/addresses/{addr}/invitations",
        {"user_email": "user@corp.test", "device_name": "Laptop"},
        (201, 201, 403, 404),
    ),
    ("POST", INVITATION + "/resend", None, (200, 200, 403, 404)),
    ("DELETE", INVITATION, None, (204, 204, 403, 404)),
    ("DELETE", INVITATION, None, (204, 204, 403, 404)),
    ("POST", INVITATION + "/resend", None, (409, 409, 403, 404)),
    ("DELETE", DEVICE, None, (204, 204, 403, 404)),
    ("DELETE", DEVICE, None, (204, 204, 403, 404)),
    ("DELETE", OWN_DEVICE, None, (204, 204, 204, 404)),
    ("GET", "/organizations/{org}/audit-events?action=device:add", None, (200, 200, 403, 404)),
    ("GET", "/organizations/{org}/device-policy", None, (200, 200, 200, 404)),
    (
        "PATCH",
        "/organizations/{org}/device-policy",
        {"unused_notice_days": 60, "unused_revoke_days": 90},
        (200, 200, 403, 404),
    ),
    ("GET", "/addresses/{addr}/devices/{udev}/logins", None, (200, 200, 200, 404)),
    ("GET", "/api-tokens", None, (200, 200, 200, 200)),
    ("POST", "/api-tokens", {"name": "ci"}, (201, 201, 201, 201)),
    ("DELETE", "/api-tokens/{legal_spare_token}", None, (204, 404, 404, 404)),
    ("GET", "/passkeys", None, (200, 200, 200, 200)),
    ("DELETE", "/passkeys/{legal_passkey}", None, (204, 404, 404, 404)),
]
AUTHENTICATED = ("legal", "admin", "user", "other")


def expected(row: Row, caller: str) -> int:
    if caller in UNAUTHENTICATED:
        return 401
    return row[3][AUTHENTICATED.index(caller)]


def test_the_matrix_covers_every_operation_of_the_api(api: ApiWorld) -> None:
    document = openapi_document()
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    covered = {(method, _template(path)) for method, path, _, _ in MATRIX}
    assert operations == covered


def _template(path: str) -> str:
    path = path.split("?")[0]
    names = {
        "{org}": "{org_id}",
        "{ms}": "{mail_service_id}",
        "{addr}": "{address_id}",
        "{dev}": "{device_id}",
        "{udev}": "{device_id}",
        "{inv}": "{invitation_id}",
        "{legal_spare_token}": "{token_id}",
        "{legal_passkey}": "{passkey_id}",
        "newbie@corp.test": "{email}",
        "temp@corp.test": "{email}",
    }
    for name, parameter in names.items():
        path = path.replace(name, parameter)
    return path


@pytest.mark.parametrize("caller", CALLERS)
async def test_every_endpoint_answers_each_caller_as_the_matrix_says(
    api: ApiWorld, caller: str
) -> None:
    answers = []
    for row in MATRIX:
        method, path, body, _ = row
        response = await api.call(caller, method, path, body)
        answers.append((method, path, response.status_code))
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["status"] == response.status_code
            assert problem["type"].startswith("https://mailward.dev/problems/")
        if response.status_code == 403:
            assert "Lena Legal <legal@corp.test>" in response.json()["who_can"]
    assert answers == [(m, p, expected(r, caller)) for r in MATRIX for m, p in [r[:2]]]


OTHER_IDS = {
    "org": "other_org",
    "ms": "other_ms",
    "addr": "other_addr",
    "dev": "other_dev",
    "inv": "other_inv",
}


async def test_no_object_of_another_organization_is_reachable_through_any_id(
    api: ApiWorld,
) -> None:
    for placeholder, other in OTHER_IDS.items():
        api.ids[placeholder] = api.ids[other]
    api.ids["udev"] = api.ids["other_dev"]
    api.ids["legal_spare_token"] = api.ids["other_token"]
    api.ids["legal_passkey"] = api.ids["other_passkey"]
    for method, path, body, _ in MATRIX:
        if "{" not in path:
            continue
        response = await api.call("legal", method, path, body)
        assert response.status_code == 404, (method, path, response.text)
    owner = Actor(None, "operator")
    device = await api.world.services.devices.get(
        owner, api.ids["other_addr"], api.ids["other_dev"]
    )
    assert device.status == "active"
    assert device.password_changed_at == device.created_at
    pending = await invitations_of(api.world).list_pending(owner, api.ids["other_addr"])
    assert [(i.id, i.status) for i in pending] == [(api.ids["other_inv"], "pending")]
    members = await api.world.services.organizations.members(owner, api.ids["other_org"])
    assert [m.email for m in members] == ["owner@other.test"]


async def test_ids_of_two_organizations_cannot_be_mixed_in_one_path(api: ApiWorld) -> None:
    for path in ("/addresses/{addr}/devices/{other_dev}", "/addresses/{other_addr}/devices/{dev}"):
        assert (await api.call("legal", "GET", path)).status_code == 404
        assert (await api.call("legal", "DELETE", path)).status_code == 404


async def test_a_token_acts_only_in_its_organization_even_for_a_member_of_both(
    api: ApiWorld,
) -> None:
    op = Actor.operator()
    await api.world.services.organizations.add_member(
        op, api.world.org_id, "owner@other.test", "administrator"
    )
    for method, path, body, _ in MATRIX:
        if "{" not in path or "legal_spare_token" in path:
            continue
        response = await api.call("other", method, path, body)
        assert response.status_code == 404, (method, path, response.text)
    listed = await api.call("other", "GET", "/organizations")
    assert [o["name"] for o in listed.json()] == ["Other"]
