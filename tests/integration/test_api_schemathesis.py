"""schemathesis against a running ``mailward serve``: every operation of the committed
document, with a valid token; no 5xx, and every response conforms to the document.

One check is left out: ``positive_data_acceptance``. Domain rules (a domain IDNA can
encode, an address syntax, a device password's strength, an expiry in the future) are
the use cases', not the schema's; their refusal is a documented 422 problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from tests.integration.running_server import RunningServer

DOCUMENT = Path(__file__).parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(DOCUMENT)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_within_its_documented_contract(
    case: schemathesis.Case, server: RunningServer
) -> None:
    case.call_and_validate(
        base_url=server.api,
        headers={"Authorization": f"Bearer {server.token}"},
        excluded_checks=[positive_data_acceptance],
    )
