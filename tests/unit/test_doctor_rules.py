"""mailward doctor's rules, as pure functions over what the lookups found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailward.core.mailservices.dns_records import DnsRecord
from mailward.core.mailservices.doctor import (
    Check,
    Found,
    certificate_check,
    record_check,
    reverse_check,
    worst,
)

HOST = "mail.example.test"
NOW = datetime(2026, 12, 3, tzinfo=UTC)


def txt(name: str, value: str) -> DnsRecord:
    return DnsRecord(name, "TXT", value, "")


SPF = txt("example.test.", f"v=spf1 mx a:{HOST} -all")
DMARC = txt("_dmarc.example.test.", "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test")
STS = txt("_mta-sts.example.test.", "v=STSv1; id=abc123")
SRV = DnsRecord("_imaps._tcp.example.test.", "SRV", f"0 1 993 {HOST}.", "")


def test_an_spf_record_of_the_operators_own_making_passes_when_it_names_this_host() -> None:
    found = Found(("v=spf1 include:_spf.provider.test a:mail.example.test ~all",))
    assert record_check(SPF, found, HOST).status == "ok"


def test_spf_fails_when_it_lacks_this_host_is_doubled_or_allows_everyone() -> None:
    assert record_check(SPF, Found(("v=spf1 ip4:192.0.2.1 -all",)), HOST).status == "fail"
    doubled = Found((SPF.value, SPF.value))
    assert "2 SPF records" in record_check(SPF, doubled, HOST).detail
    assert "+all" in record_check(SPF, Found(("v=spf1 mx +all",)), HOST).detail


def test_dmarc_p_none_warns_and_garbage_fails_with_the_line_to_publish() -> None:
    none = record_check(DMARC, Found(("v=DMARC1; p=none",)), HOST)
    assert none.status == "warn"
    garbage = record_check(DMARC, Found(("v=DMARC1; p=maybe",)), HOST)
    assert (
        garbage.status == "fail" and "publish: _dmarc.example.test. 3600 IN TXT" in garbage.detail
    )


def test_mta_sts_id_must_match_the_served_policy() -> None:
    assert record_check(STS, Found(("v=STSv1; id=abc123",)), HOST).status == "ok"
    assert record_check(STS, Found(("v=STSv1; id=old",)), HOST).status == "fail"
    assert record_check(STS, Found(()), HOST).status == "warn"


def test_a_missing_client_record_only_warns_and_a_failed_lookup_fails() -> None:
    assert record_check(SRV, Found(()), HOST).status == "warn"
    assert record_check(SRV, Found((f"0 1 993 {HOST}.",)), HOST).status == "ok"
    assert record_check(SPF, Found(problem="LifetimeTimeout"), HOST).status == "fail"


def test_reverse_dns_must_name_the_host() -> None:
    assert reverse_check(HOST, "192.0.2.1", Found((f"{HOST}.",))).status == "ok"
    wrong = reverse_check(HOST, "192.0.2.1", Found(("host-1.isp.test.",)))
    assert wrong.status == "fail" and "host-1.isp.test" in wrong.detail


def test_the_certificate_must_cover_the_host_and_not_be_about_to_expire() -> None:
    later = NOW + timedelta(days=60)
    assert certificate_check(HOST, ["*.example.test"], later, NOW).status == "ok"
    assert certificate_check(HOST, ["other.test"], later, NOW).status == "fail"
    assert certificate_check(HOST, [HOST], NOW + timedelta(days=3), NOW).status == "warn"
    assert certificate_check(HOST, [HOST], NOW - timedelta(days=1), NOW).status == "fail"


def test_worst_status_decides() -> None:
    checks = [Check("a", "ok", ""), Check("b", "warn", "")]
    assert worst(checks) == "warn"
    assert worst([*checks, Check("c", "fail", "")]) == "fail"
