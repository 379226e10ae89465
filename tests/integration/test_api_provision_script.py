"""The documented end-to-end script runs as written against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.running_server import RunningServer

SCRIPT = Path(__file__).parents[2] / "docs" / "api-provision.py"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
def test_the_provisioning_script_reaches_imap_with_the_password_the_api_returned(
    server: RunningServer,
) -> None:
    env = {
        **server.env,
        "MAILWARD_API": server.api,
        "MAILWARD_TOKEN": server.token,
        "MAILWARD_DOMAIN": "acme.test",
        "MAILWARD_IMAP_HOST": "127.0.0.1",
        "MAILWARD_IMAP_PORT": str(server.imaps_port),
        "MAILWARD_TLS_INSECURE": "1",
    }
    first = _run(env)
    assert first.returncode == 2, first.stdout + first.stderr  # the domain is only claimed
    name, _, value = first.stdout.rpartition("publish, then run again: ")[2].partition(" TXT ")
    server.dns.publish({name: [value.strip().strip('"')]})
    done = _run(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "IMAP login OK as contact@acme.test; INBOX select: OK" in done.stdout
    assert server.token not in done.stdout + done.stderr
