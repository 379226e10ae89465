"""The data directory option across commands: ``integrate`` reads ``--data-dir`` like
every other command (the Maildirs of the generated Dovecot configuration are under it);
``db upgrade`` creates a missing one (a new production node, docs/PRODUCTION.md) and
names it; other commands refuse a missing one and name it."""

import os
import subprocess
import sys
from pathlib import Path


def mailward(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWARD_")}
    env["MAILWARD_DATA_DIR"] = str(tmp_path / "from-the-environment")
    return subprocess.run(
        [sys.executable, "-m", "mailward.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_integrate_dovecot_follows_the_data_dir_option(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen-data"
    output = str(tmp_path / "dovecot")
    result = mailward(tmp_path, "--data-dir", str(chosen), "integrate", "dovecot", "-o", output)
    assert result.returncode == 0, result.stderr
    written = "".join(p.read_text() for p in (tmp_path / "dovecot").rglob("*.conf"))
    assert str((chosen / "mail").resolve()) in written
    assert "from-the-environment" not in written


def test_db_upgrade_creates_a_missing_data_dir_and_names_it(tmp_path: Path) -> None:
    chosen = tmp_path / "new-node"
    result = mailward(tmp_path, "--data-dir", str(chosen), "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert chosen.is_dir()
    assert f"(data directory {chosen})" in result.stdout


def test_other_commands_refuse_a_missing_data_dir_and_name_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = mailward(tmp_path, "--data-dir", str(missing), "db", "current")
    assert result.returncode == 1
    assert f"no data directory at {missing.resolve()}" in result.stderr
    assert not missing.exists()
