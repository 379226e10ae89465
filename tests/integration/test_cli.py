"""The ``mailward`` command, run as a real process, the way an operator runs it."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from mailward.db.migrate import alembic_config

PASSWORD = "correct horse battery staple 42"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def mailward(tmp_path: Path, database_url: str) -> Run:
    env = {**os.environ, "MAILWARD_DATA_DIR": str(tmp_path / "data")}
    env.pop("MAILWARD_DATABASE_URL", None)

    def run(*args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "mailward.cli", "--database-url", database_url, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    run(
        "init",
        "--email",
        "boss@corp.test",
        "--org",
        "Corp",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    run("mailservice", "create", "example.test", "--org", "Corp")
    run("address", "create", "info@example.test")
    return run


def test_device_add_prints_the_password_once_and_list_shows_no_secret(mailward: Run) -> None:
    added = json.loads(
        mailward("device", "add", "info@example.test", "--name", "Website form", "--json").stdout
    )
    assert {"id", "name", "password"} <= added.keys() and len(added["password"]) >= 16
    listed = mailward("device", "list", "info@example.test", "--json").stdout
    devices = json.loads(listed)
    assert [(d["id"], d["name"], d["password_kind"]) for d in devices] == [
        (added["id"], "Website form", "generated")
    ]
    assert {"created_by", "created_at", "user"} <= devices[0].keys()
    assert added["password"] not in listed
    assert 'password"' not in listed.replace("password_kind", "").replace("password_changed_at", "")


def test_plain_output_puts_the_password_alone_on_its_line(mailward: Run) -> None:
    result = mailward("device", "add", "info@example.test", "--name", "CRM")
    assert len(result.stdout.splitlines()) == 1 and len(result.stdout.strip()) == 20
    assert "shown only this once" in result.stderr


def test_a_chosen_password_comes_from_stdin_and_weak_ones_are_refused(mailward: Run) -> None:
    chosen = "vivid-otter-clamps-17-brass-kettles"
    added = json.loads(
        mailward(
            "device",
            "add",
            "info@example.test",
            "--name",
            "Phone",
            "--password-stdin",
            "--json",
            stdin=chosen + "\n",
        ).stdout
    )
    assert added["password"] == chosen and added["password_kind"] == "chosen"
    weak = mailward(
        "device",
        "add",
        "info@example.test",
        "--name",
        "Weak",
        "--password-stdin",
        stdin="password1234567890\n",
        check=False,
    )
    assert weak.returncode == 1 and weak.stderr.startswith("error: password")
    assert "Traceback" not in weak.stderr


def test_password_rename_options_and_revoke_by_name_or_id(mailward: Run) -> None:
    added = json.loads(
        mailward("device", "add", "info@example.test", "--name", "Laptop", "--json").stdout
    )
    changed = json.loads(
        mailward("device", "password", "info@example.test", "Laptop", "--json").stdout
    )
    assert changed["password"] != added["password"] and changed["id"] == added["id"]
    mailward("device", "rename", "info@example.test", str(added["id"]), "Old laptop")
    mailward(
        "device",
        "options",
        "info@example.test",
        "Old laptop",
        "--protocols",
        "imap",
        "--networks",
        "192.0.2.0/24",
        "--expires",
        "2099-01-01",
    )
    shown = json.loads(mailward("device", "list", "info@example.test", "--json").stdout)[0]
    assert shown["allowed_protocols"] == ["imap"] and shown["allowed_networks"] == ["192.0.2.0/24"]
    assert shown["expires_at"].startswith("2099-01-01")
    assert mailward("device", "revoke", "info@example.test", "Old laptop").returncode == 0
    assert json.loads(mailward("device", "list", "info@example.test", "--json").stdout) == []
    audit = json.loads(mailward("audit", "list", "--json").stdout)
    assert {"device:revoke", "device:rename", "device:password_change"} <= {
        e["action"] for e in audit
    }
    assert all(e["actor"] == "operator" for e in audit if e["action"].startswith("device:"))
    text = json.dumps(audit)
    assert added["password"] not in text and changed["password"] not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("device", "list", "nobody@example.test"), "no address"),
        (("device", "revoke", "info@example.test", "ghost"), "no device"),
        (("address", "create", "not-an-address"), "not an email address"),
        (("mailservice", "create", "bad domain", "--org", "Corp"), "not a valid domain"),
        (("device", "add", "info@example.test", "--name", "X", "--protocols", "ftp"), "protocols"),
        (("device", "add", "info@example.test", "--name", "X", "--expires", "soon"), "not a date"),
        (("org", "member", "add", "x@y.test", "--org", "Corp", "--role", "boss"), "not a role"),
    ],
)
def test_user_errors_print_one_clear_line_and_exit_non_zero(
    mailward: Run, args: tuple[str, ...], message: str
) -> None:
    result = mailward(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_db_upgrade_reports_the_head_revision(mailward: Run) -> None:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert f"database at revision {head}" in mailward("db", "upgrade").stdout
