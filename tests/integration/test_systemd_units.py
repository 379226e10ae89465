"""``mailward integrate systemd``: every unit it writes passes ``systemd-analyze verify``
(offline: no running systemd is needed, the ExecStart binaries must exist), is
hardened, and lets Mailward write only its data directory."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import skip_or_fail

HARDENING = {
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "ProtectSystem": "strict",
}


def integrate_systemd(tmp_path: Path, *args: str) -> list[Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWARD_")}
    env["MAILWARD_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "mailward.cli", "integrate", "systemd", "--output",
         str(tmp_path / "units"), *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [Path(line) for line in done.stdout.split()]


def service_section(unit: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    return dict(parser["Service"])


def test_every_generated_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        skip_or_fail("systemd-analyze is not installed (Debian: systemd)")
        return
    units = integrate_systemd(
        tmp_path,
        "--config-file", str(tmp_path / "mailward.toml"),
        "--dovecot-config", str(tmp_path / "dovecot" / "dovecot.conf"),
        "--postfix-dir", str(tmp_path / "postfix"),
        "--rspamd-config", str(tmp_path / "rspamd" / "rspamd.conf"),
    )  # fmt: skip
    names = [unit.name for unit in units]
    assert names == [
        "mailward.service",
        "mailward-dovecot.service",
        "mailward-postfix.service",
        "mailward-rspamd.service",
    ]
    done = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # an unknown key is only a warning there
    for unit in units:
        service = service_section(unit)
        assert {k: service.get(k) for k in HARDENING} == HARDENING, unit.name


def test_mailward_runs_as_its_own_user_notifies_and_writes_only_its_data_directory(
    tmp_path: Path,
) -> None:
    (unit,) = integrate_systemd(tmp_path, "--user", "mailmgr")
    service = service_section(unit)
    assert service["Type"] == "notify"
    assert service["WatchdogSec"] == "30"
    assert service["User"] == service["Group"] == "mailmgr"
    assert service["ReadWritePaths"] == str((tmp_path / "data").resolve())
    assert service["ExecStart"].endswith("mailward serve")
    assert Path(service["ExecStart"].split()[0]).exists()
    assert "MAILWARD_DATA_DIR=" in service["Environment"]
