"""``mailward dkim`` and ``mailward dns``, run as real processes."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_cli import Run, mailward  # noqa: F401  (the fixture)


def test_dns_json_is_a_list_of_name_type_value_purpose(mailward: Run) -> None:  # noqa: F811
    result = mailward("dns", "example.test", "--json")
    records = json.loads(result.stdout)
    assert records and all(set(r) == {"name", "type", "value", "purpose"} for r in records)
    types = {(r["name"], r["type"]) for r in records}
    for wanted in [
        ("example.test.", "MX"),
        ("example.test.", "TXT"),
        ("_dmarc.example.test.", "TXT"),
        ("_mta-sts.example.test.", "TXT"),
        ("_smtp._tls.example.test.", "TXT"),
        ("_imaps._tcp.example.test.", "SRV"),
    ]:
        assert wanted in types
    assert sum(r["name"].endswith("._domainkey.example.test.") for r in records) == 2
    # no public_url here: the manager's host is bind's address, which no CNAME may name
    assert ("mta-sts.example.test.", "CNAME") not in types
    assert "warning: public_url is not set" in result.stderr


def test_dns_prints_zone_file_lines(mailward: Run) -> None:  # noqa: F811
    lines = [ln for ln in mailward("dns", "example.test").stdout.splitlines() if ln[:1] != ";"]
    assert "example.test. 3600 IN MX 10 localhost." in lines
    assert 'example.test. 3600 IN TXT "v=spf1 mx a:localhost -all"' in lines
    assert any(ln.startswith('_dmarc.example.test. 3600 IN TXT "v=DMARC1;') for ln in lines)


def test_dkim_rotate_list_and_remove(mailward: Run) -> None:  # noqa: F811
    first = json.loads(mailward("dkim", "list", "example.test", "--json").stdout)
    assert [k["algorithm"] for k in first] == ["rsa", "ed25519"]
    assert all(k["retired_at"] is None for k in first)
    assert "PRIVATE" not in json.dumps(first)
    rotated = mailward("dkim", "rotate", "example.test").stdout
    assert rotated.count("\tactive\t") == 2 and rotated.count("\tretired\t") == 2
    old = first[0]["selector"]
    removed = mailward("dkim", "remove", "example.test", old).stdout
    assert f"removed {old}" in removed
    after = json.loads(mailward("dkim", "list", "example.test", "--json").stdout)
    assert old not in {k["selector"] for k in after} and len(after) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dns", "nowhere.test"), "no mail service nowhere.test"),
        (("dns", "not a domain!"), "domain"),
        (("dkim", "rotate", "nowhere.test"), "no mail service nowhere.test"),
        (("dkim", "remove", "example.test", "bad;selector"), "selector"),
        (("dkim", "remove", "example.test", "mw19990101r"), "no DKIM selector"),
    ],
)
def test_garbage_arguments_get_one_clear_line(
    mailward: Run,  # noqa: F811
    args: tuple[str, ...],
    message: str,
) -> None:
    result = mailward(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
