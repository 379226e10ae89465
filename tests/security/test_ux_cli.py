"""The command line as a new administrator finds it: run from the wrong directory it
refuses instead of starting an empty installation, and it says what it works on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PASSWORD = "correct horse battery staple 42"


def mailward(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWARD_")}
    return subprocess.run(
        [sys.executable, "-m", "mailward.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_a_command_run_elsewhere_refuses_and_names_the_data_directory(tmp_path: Path) -> None:
    for args in (("org", "list"), ("device", "list", "info@example.test"), ("keys", "rotate")):
        result = mailward(tmp_path, *args)
        assert result.returncode == 1, (args, result.stdout)
        assert f"no data directory at {tmp_path / 'mailward-data'}" in result.stderr
        assert "MAILWARD_DATA_DIR" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "mailward-data").exists()


def test_init_creates_the_data_directory_and_commands_then_work(tmp_path: Path) -> None:
    created = mailward(
        tmp_path, "init", "--email", "boss@corp.test", "--org", "Corp", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "mailward-data").is_dir()
    assert "Corp" in mailward(tmp_path, "org", "list").stdout
    unknown = mailward(tmp_path, "device", "list", "nobody@example.test")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().endswith(f"(data directory {tmp_path / 'mailward-data'})")


def test_a_second_quickstart_says_how_to_get_a_new_demo_password(tmp_path: Path) -> None:
    first = mailward(tmp_path, "quickstart")
    assert first.returncode == 0 and "shown only this once" in first.stdout
    again = mailward(tmp_path, "quickstart")
    assert again.returncode == 0
    assert "never shown again" in again.stdout and "mv " in again.stdout
    assert "scripts/run" in again.stdout


def test_device_list_says_when_revoked_devices_are_left_out(tmp_path: Path) -> None:
    assert mailward(tmp_path, "quickstart").returncode == 0
    address = "demo@example.test"
    assert mailward(tmp_path, "device", "revoke", address, "Quick start device").returncode == 0
    live = mailward(tmp_path, "device", "list", address)
    assert live.stdout == "" and "1 revoked device(s) not listed: --all shows them" in live.stderr
    every = mailward(tmp_path, "device", "list", address, "--all")
    assert "Quick start device" in every.stdout and every.stderr == ""
