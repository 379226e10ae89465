"""Metrics, health and JSON logs of a real ``mailward serve``, scraped by a real
Prometheus (Debian's ``prometheus``) started by the test."""

from __future__ import annotations

import imaplib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.mail_world import imaps
from tests.integration.serve_process import ServeProcess, serve_process
from tests.support import free_port, skip_or_fail

PROMETHEUS = "/usr/bin/prometheus"
OK_LOGINS = 3
WRONG_PASSWORD = "Wrong-Password-Nobody-Has-42"
QUERY = 'mailward_logins_total{protocol="imap",result="ok"}'

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data_dir = tmp_path_factory.mktemp("metrics") / "data"
    with serve_process(data_dir, log_format="json") as serve:
        yield serve


def start_prometheus(workdir: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    if not Path(PROMETHEUS).exists() and shutil.which("prometheus") is None:
        skip_or_fail("prometheus is not installed (Debian package prometheus)")
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: mailward\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            shutil.which("prometheus") or PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=log,
    )
    log.close()
    return process, f"http://127.0.0.1:{port}"


def query_until(prometheus: str, query: str, wanted: float, within: float = 60.0) -> float:
    """Ask Prometheus every half second until ``query`` gives ``wanted`` (bounded)."""
    deadline = time.monotonic() + within
    seen: float | None = None
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5)
            results = answer.json()["data"]["result"]
            seen = float(results[0]["value"][1]) if results else None
        except (httpx.HTTPError, ValueError, KeyError):
            seen = None
        if seen == wanted:
            return seen
        time.sleep(0.5)
    raise AssertionError(f"{query} was {seen}, not {wanted}, within {within} s")


def log_in(node: ServeProcess, password: str) -> bool:
    client = imaps(node.port("imaps"))
    try:
        client.login(node.address, password)
    except imaplib.IMAP4.error:
        return False
    finally:
        client.shutdown()
    return True


def test_prometheus_counts_the_successful_imap_logins_the_test_made(
    node: ServeProcess, tmp_path: Path
) -> None:
    prometheus, url = start_prometheus(tmp_path, f"127.0.0.1:{node.port('auth_http')}")
    try:
        for _ in range(OK_LOGINS):
            assert log_in(node, node.password)
        assert not log_in(node, WRONG_PASSWORD)
        assert query_until(url, QUERY, OK_LOGINS) == OK_LOGINS
        wrong = 'mailward_logins_total{protocol="imap",result="wrong"}'
        assert query_until(url, wrong, 1) == 1
        assert query_until(url, 'up{job="mailward"}', 1) == 1
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=15)


def test_metrics_show_sessions_latency_spool_and_certificate_expiry(node: ServeProcess) -> None:
    base = f"http://127.0.0.1:{node.port('auth_http')}"
    client = imaps(node.port("imaps"))
    client.login(node.address, node.password)
    try:
        text = httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        client.logout()
    assert 'mailward_live_sessions{protocol="imap"} 1.0' in text
    assert 'mailward_login_seconds_bucket{le="0.1",protocol="imap",result="ok"}' in text
    assert "mailward_spool_messages " in text
    assert "mailward_spool_oldest_age_seconds " in text
    assert "mailward_certificate_expiry_timestamp_seconds " in text
    assert node.password not in text


def test_health_and_readiness_answer_on_the_auth_listener_without_the_secret(
    node: ServeProcess,
) -> None:
    base = f"http://127.0.0.1:{node.port('auth_http')}"
    assert httpx.get(f"{base}/healthz", timeout=5).text == "ok\n"
    ready = httpx.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks == {
        "database": "ok",
        "key_ring": "ok",
        "listeners": "ok",
        "redis": "not configured",
    }
    assert httpx.post(f"{base}/auth/dovecot", json={}, timeout=5).status_code == 403


def test_json_logs_are_one_object_a_line_with_the_device_id_and_no_password(
    node: ServeProcess,
) -> None:
    assert log_in(node, node.password)
    assert not log_in(node, WRONG_PASSWORD)
    lines = [line for line in node.stderr.read_text().splitlines() if line.strip()]
    assert lines, "serve logged nothing"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    text = node.stderr.read_text()
    assert node.password not in text
    assert WRONG_PASSWORD not in text
