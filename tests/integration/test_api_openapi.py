"""The committed OpenAPI document is the one the app serves."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.api_world import ApiWorld

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


async def test_the_committed_openapi_document_matches_the_app(api: ApiWorld) -> None:
    served = await api.client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text()), (
        "docs/openapi.json is stale: python -m mailward.web.api.document > docs/openapi.json"
    )


async def test_the_document_is_served_without_a_token_and_names_the_bearer_scheme(
    api: ApiWorld,
) -> None:
    document = (await api.client.get("/api/v1/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["apiToken"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert all(op["security"] == [{"apiToken": []}] for op in operations)
    assert all("401" in op["responses"] for op in operations)
