"""Who may read /metrics and /readyz, and what a JSON log line carries."""

from __future__ import annotations

import json
import logging

from mailward.ops.logs import JsonLines
from mailward.ops.routes import OpsRoutes, is_loopback


class NoHealth:
    pass


def test_loopback_clients_need_no_secret_and_others_need_the_token() -> None:
    routes = OpsRoutes(NoHealth(), token="metrics-token-123")  # type: ignore[arg-type]
    assert routes.allowed(("127.0.0.1", 5000), {})
    assert routes.allowed(("::1", 5000), {})
    assert routes.allowed(("::ffff:127.0.0.1", 5000), {})
    assert not routes.allowed(("192.0.2.7", 5000), {})
    assert not routes.allowed(None, {})
    assert not routes.allowed(("192.0.2.7", 5000), {b"authorization": b"Bearer wrong"})
    assert routes.allowed(("192.0.2.7", 5000), {b"authorization": b"Bearer metrics-token-123"})


def test_without_a_token_only_loopback_is_answered() -> None:
    routes = OpsRoutes(NoHealth())  # type: ignore[arg-type]
    assert not routes.allowed(("192.0.2.7", 1), {b"authorization": b"Bearer "})
    assert not is_loopback(("not-an-ip", 1))


def test_a_json_log_line_is_one_object_with_the_device_id() -> None:
    record = logging.LogRecord("mailward.mail", logging.INFO, "x", 1, "device %s ended", (7,), None)
    record.device_id = 7
    line = JsonLines().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "device 7 ended"
    assert data["device_id"] == 7
    assert data["level"] == "info"
    assert data["logger"] == "mailward.mail"
