"""The data directory option across commands: ``integrate`` reads ``--data-dir`` like
every other command (the Maildirs of the generated Dovecot configuration are under it);
``db upgrade`` creates a missing one (a new production node, docs/PRODUCTION.md) and
names it; other commands, integrate dovecot among them, refuse a missing one and name
it. A mailbox backend's configuration trusts only the proxies' networks given."""

import json
import os
import subprocess
import sys
from pathlib import Path


def mailward(
    tmp_path: Path, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWARD_")}
    env["MAILWARD_DATA_DIR"] = str(tmp_path / "from-the-environment")
    env |= env_extra or {}
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
    chosen.mkdir()
    output = str(tmp_path / "dovecot")
    result = mailward(tmp_path, "--data-dir", str(chosen), "integrate", "dovecot", "-o", output)
    assert result.returncode == 0, result.stderr
    written = "".join(p.read_text() for p in (tmp_path / "dovecot").rglob("*.conf"))
    assert str((chosen / "mail").resolve()) in written
    assert "from-the-environment" not in written


def test_integrate_dovecot_refuses_a_missing_data_dir_instead_of_a_new_auth_secret(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere"
    output = tmp_path / "dovecot"
    result = mailward(
        tmp_path, "--data-dir", str(missing), "integrate", "dovecot", "-o", str(output)
    )
    assert result.returncode == 1
    assert f"no data directory at {missing.resolve()}" in result.stderr
    assert not missing.exists() and not output.exists()


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


def integrate_backend(tmp_path: Path, *networks: str) -> subprocess.CompletedProcess[str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    arguments = [f"--proxy-network={network}" for network in networks]
    backends = json.dumps({"store1": {"host": "127.0.0.1"}})
    return mailward(
        tmp_path,
        *("--data-dir", str(data), "integrate", "dovecot", "-o", str(tmp_path / "dovecot")),
        *("--role", "backend", "--backend", "store1", *arguments),
        env_extra={"MAILWARD_MAILBOX_BACKENDS": backends},
    )


def test_a_backend_trusts_only_the_proxy_networks_given_each_an_ip_network(
    tmp_path: Path,
) -> None:
    result = integrate_backend(tmp_path, "10.0.0.7", "fd00::/64")
    assert result.returncode == 0, result.stderr
    config = (tmp_path / "dovecot" / "dovecot.conf").read_text()
    assert "login_trusted_networks = 10.0.0.7/32 fd00::/64\n" in config


def test_a_backend_without_proxy_networks_or_with_garbage_is_refused_clearly(
    tmp_path: Path,
) -> None:
    missing = integrate_backend(tmp_path)
    assert missing.returncode == 1
    assert "--role backend needs --proxy-network" in missing.stderr
    garbage = integrate_backend(tmp_path, "10.0.0.0/24\nauth_debug = yes")
    assert garbage.returncode == 1
    assert "--proxy-network: " in garbage.stderr and "Traceback" not in garbage.stderr
    assert not (tmp_path / "dovecot" / "dovecot.conf").exists()
