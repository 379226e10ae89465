import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from mailward.core.names import clean_name, normalize_domain, normalize_local_part, split_address
from mailward.errors import InvalidInput
from mailward.keys import KeyFileError, ServerKeys, load_key_file
from mailward.settings import Settings


def test_domains_are_idna_encoded_and_lower_cased() -> None:
    assert normalize_domain(" Exämple.CH. ") == "xn--exmple-cua.ch"
    assert split_address("Info@Example.COM") == ("info", "example.com")


@pytest.mark.parametrize(
    "domain", ["", "localhost", "-bad.com", "a..b", "1.2.3.4", "x" * 64 + ".com"]
)
def test_malformed_domains_are_refused(domain: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_domain(domain)


@pytest.mark.parametrize("local", ["", ".a", "a.", "a..b", "a b", "x" * 65, "a@b"])
def test_malformed_local_parts_are_refused(local: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_local_part(local)


def test_names_are_trimmed_and_refuse_control_characters() -> None:
    assert clean_name("  Website   form ") == "Website form"
    with pytest.raises(InvalidInput):
        clean_name("bad\x00name")
    with pytest.raises(InvalidInput):
        clean_name("   ")


def test_the_key_file_is_created_private_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ring.json"
    keys = load_key_file(path, create=True)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_key_file(path, create=False) == keys
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key_file(path, create=False)


def test_a_missing_key_file_is_not_created_when_told_not_to(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        load_key_file(tmp_path / "none.json", create=False)


def test_sealed_secrets_open_only_with_their_purpose_and_survive_rotation() -> None:
    keys = ServerKeys.generate()
    sealed = keys.seal("totp", b"JBSWY3DPEHPK3PXP")
    assert b"JBSWY3DPEHPK3PXP" not in sealed.encode()
    assert keys.rotated().unseal("totp", sealed) == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(Exception):  # noqa: B017 - any failure to open is right
        keys.unseal("other", sealed)


def test_the_key_ring_never_shows_its_keys_in_a_repr() -> None:
    keys = ServerKeys.generate()
    shown = repr(keys)
    assert keys.current_id in shown
    for key in keys.keys.values():
        assert repr(key) not in shown and key.hex() not in shown


def test_production_mode_refuses_default_secrets() -> None:
    with pytest.raises(ValidationError, match="production mode refuses"):
        Settings(mode="production")
    Settings(
        mode="production",
        auth_http_secret="s" * 40,
        public_url="https://mail.example.com",
        database_url="postgresql+asyncpg://db/mailward",
        server_key_file="/etc/mailward/keys.json",
    )


def test_settings_come_from_mailward_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILWARD_IMAP_PORT", "2143")
    monkeypatch.setenv("MAILWARD_DATA_DIR", "/srv/mailward")
    settings = Settings()
    assert settings.imap_port == 2143
    assert settings.data_dir == Path("/srv/mailward")
    monkeypatch.setenv("MAILWARD_IMAP_PORT", "not-a-port")
    with pytest.raises(ValidationError):
        Settings()
