"""``mailward serve`` fails loudly: a broken import of one of Mailward's own modules
stops the process with the error, and a part that cannot start stops the parts already
started, in reverse order.

Before, ``start_web`` caught the ImportError of ``mailward.web.app`` and ran on without
the web manager ("http off"), ``mailward`` dropped its ``integrate`` commands when
``mailward.integrations.cli`` failed to import, and a listener that could not bind left
the listeners bound before it open."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mailward.serve import serve
from mailward.settings import Settings
from tests.support import free_port

PORTS = ("http", "imap", "imaps", "submission", "submissions", "smtp", "pop3", "pop3s")
PORT_SETTINGS = (*(f"{name}_port" for name in PORTS), "auth_http_port")
BACKGROUND_TASKS = {"device-change-feed", "device-last-used", "outbound-spool", "web"}

# Installed through PYTHONPATH: Python imports ``sitecustomize`` at start-up, before
# Mailward, and the finder makes one module's import fail as a broken module would.
BREAK_IMPORT = """
import sys

class BrokenModule:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise ImportError("deliberately broken for the test: " + name, name=name)
        return None

sys.meta_path.insert(0, BrokenModule())
"""


def serve_env(tmp_path: Path, database_url: str, broken: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(broken), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        MAILWARD_DATA_DIR=str(tmp_path / "data"),
        MAILWARD_DATABASE_URL=database_url,
        MAILWARD_BIND="127.0.0.1",
    )
    for name in PORT_SETTINGS:
        env[f"MAILWARD_{name.upper()}"] = str(free_port())
    return env


def run_serve_with_broken(module: str, tmp_path: Path, database_url: str) -> tuple[int, str]:
    """``mailward serve`` with ``module`` broken: its exit code and standard error. A
    process still running after 60 s (it started without that module) is stopped."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "sitecustomize.py").write_text(BREAK_IMPORT.format(module=module))
    (tmp_path / "data").mkdir()
    command = [sys.executable, "-m", "mailward.cli", "serve"]
    env = serve_env(tmp_path, database_url, broken)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"serve kept running without {module}: {out.decode()}")
    return process.returncode, err.decode()


@pytest.mark.parametrize("module", ["mailward.web.app", "mailward.integrations.cli"])
def test_serve_stops_with_the_error_when_one_of_its_modules_does_not_import(
    module: str, tmp_path: Path, database_url: str
) -> None:
    code, stderr = run_serve_with_broken(module, tmp_path, database_url)
    assert code != 0
    assert "ImportError" in stderr and f"deliberately broken for the test: {module}" in stderr


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def on_free_ports(settings: Settings) -> Settings:
    ports = {name: free_port() for name in PORT_SETTINGS}
    return settings.model_copy(update={"bind": "127.0.0.1", **ports})


async def serve_failing_on(settings: Settings, taken_port: str) -> list[int]:
    """Run ``serve`` with ``taken_port`` in use: it must fail with OSError. Returns the
    node's other ports still bound afterwards."""
    settings = on_free_ports(settings)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", getattr(settings, taken_port)))
        taken.listen()
        with pytest.raises(OSError):
            await serve(settings)
    others = [getattr(settings, name) for name in PORT_SETTINGS if name != taken_port]
    return [port for port in others if not port_is_free(port)]


async def test_a_part_that_cannot_start_stops_the_parts_started_before_it(
    settings: Settings,
) -> None:
    # The web manager starts last: everything else was running when it failed.
    assert await serve_failing_on(settings, "http_port") == []
    running = {task.get_name() for task in asyncio.all_tasks()} & BACKGROUND_TASKS
    assert running == set()


async def test_a_mail_listener_that_cannot_bind_closes_those_bound_before_it(
    settings: Settings,
) -> None:
    # POP3S is the embedded plane's last listener: IMAP, SMTP and POP3 were bound.
    assert await serve_failing_on(settings, "pop3s_port") == []
