"""The generated files are accepted by Dovecot's and Postfix's own parsers, and the
secret-holding files (the Lua script, a backend's doveadm password) are private."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from mailward.integrations.dovecot import INTERNAL_USER, write_dovecot_config
from mailward.integrations.options import DataPlaneOptions
from mailward.integrations.postfix import write_postfix_config
from mailward.integrations.render import lua_string
from mailward.settings import MailboxBackend, Settings
from tests.support import skip_or_fail

SECRET = 'secret with "quotes" \\ and\nnewline-0123456789abcdef'


def settings_in(root: Path) -> Settings:
    return Settings(data_dir=root / "data", auth_http_secret=SECRET)  # type: ignore[arg-type]


def test_lua_string_literals_cannot_be_broken_out_of() -> None:
    assert lua_string('a"b\\c\n') == '"a\\034b\\092c\\010"'
    assert lua_string("é") == '"\\195\\169"'


def test_dovecot_accepts_the_configuration_and_the_lua_file_is_private(tmp_path: Path) -> None:
    if shutil.which("doveconf") is None:
        skip_or_fail("doveconf (dovecot-core) is not installed")
    tmp_path.chmod(0o755)
    options = DataPlaneOptions(mail_root=tmp_path / "mail")
    config, lua = write_dovecot_config(settings_in(tmp_path), tmp_path / "dovecot", options)
    assert config.name == "dovecot.conf"
    assert stat.S_IMODE(lua.stat().st_mode) == 0o600
    assert "\\034quotes\\034" in lua.read_text()
    result = subprocess.run(["doveconf", "-c", str(config), "-n"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "driver = lua" in result.stdout


def test_a_backend_s_doveadm_password_is_private_to_dovecot(tmp_path: Path) -> None:
    if shutil.which("doveconf") is None:
        skip_or_fail("doveconf (dovecot-core) is not installed")
    tmp_path.chmod(0o755)
    settings = settings_in(tmp_path).model_copy(
        update={"mailbox_backends": {"store1": MailboxBackend(host="127.0.0.1")}}
    )
    options = DataPlaneOptions(
        mail_root=tmp_path / "mail", role="backend", backend="store1", proxy_networks=("::1",)
    )
    config, lua, secret = write_dovecot_config(settings, tmp_path / "dovecot", options)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    if os.geteuid() == 0:  # given to Dovecot's internal user, like the Lua file
        dovecot = pwd.getpwnam(INTERNAL_USER).pw_uid
        assert secret.stat().st_uid == lua.stat().st_uid == dovecot
    result = subprocess.run(["doveconf", "-c", str(config), "-n"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "login_trusted_networks = ::1/128" in result.stdout


def test_postfix_accepts_the_configuration(tmp_path: Path) -> None:
    if shutil.which("postconf") is None:
        skip_or_fail("postconf (postfix) is not installed")
    write_postfix_config(settings_in(tmp_path), tmp_path / "postfix")
    result = subprocess.run(
        ["postconf", "-c", str(tmp_path / "postfix"), "-n", "virtual_transport"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("virtual_transport = lmtp:inet:127.0.0.1:")
    warnings = subprocess.run(
        ["postconf", "-c", str(tmp_path / "postfix"), "-M"], capture_output=True, text=True
    )
    assert warnings.returncode == 0 and "warning" not in warnings.stderr, warnings.stderr
