"""The API lists the caller's own passkeys (never a key) and removes one of them."""

from __future__ import annotations

from tests.integration.api_world import ApiWorld


async def test_the_caller_lists_and_removes_their_own_passkeys(api: ApiWorld) -> None:
    listed = await api.call("legal", "GET", "/passkeys")
    assert listed.status_code == 200
    (passkey,) = listed.json()
    assert passkey["id"] == api.ids["legal_passkey"] and passkey["name"] == "Lena's key"
    assert set(passkey) == {"id", "name", "created_at", "last_used_at"}
    assert (await api.call("admin", "GET", "/passkeys")).json() == []
    assert (await api.call("admin", "DELETE", "/passkeys/{legal_passkey}")).status_code == 404
    assert (await api.call("legal", "DELETE", "/passkeys/{legal_passkey}")).status_code == 204
    assert (await api.call("legal", "GET", "/passkeys")).json() == []
