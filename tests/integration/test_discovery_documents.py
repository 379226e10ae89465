"""Discovery documents checked against the rules the clients apply."""

from __future__ import annotations

import plistlib
import xml.etree.ElementTree as ET
from pathlib import Path

from mailward.core.clientsettings import (
    APPLE_MAIL_PAYLOAD,
    AUTODISCOVER_RESPONSE_NS,
    OUTLOOK_RESPONSE_NS,
    autodiscover_json,
    autodiscover_pox,
    autodiscover_request_email,
    mobileconfig,
    thunderbird_autoconfig,
)
from mailward.core.mailservices.dns_records import dns_records, dns_warnings
from mailward.settings import Settings

TB_SOCKET_TYPES = {"plain", "SSL", "STARTTLS"}
TB_AUTH = {
    "password-cleartext",
    "password-encrypted",
    "NTLM",
    "GSSAPI",
    "client-IP-address",
    "TLS-client-cert",
    "OAuth2",
    "none",
}
APPLE_REQUIRED = {
    "EmailAccountType",
    "EmailAddress",
    "IncomingMailServerHostName",
    "IncomingMailServerAuthentication",
    "IncomingMailServerUsername",
    "OutgoingMailServerHostName",
    "OutgoingMailServerAuthentication",
    "PayloadIdentifier",
    "PayloadType",
    "PayloadUUID",
    "PayloadVersion",
}


def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        hostname="mail.example.net",
        public_url="https://manager.example.net",
        imaps_port=993,
        imap_port=143,
        submissions_port=465,
        submission_port=587,
        pop3s_port=995,
    )


def check_thunderbird(xml: bytes, domain: str, hostname: str, ports: bool = True) -> None:
    """Thunderbird's rules (comm-central accountcreation/ConfigVerifier, readFromXML)."""
    root = ET.fromstring(xml)  # noqa: S314 - our own output
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider is not None and provider.get("id")
    assert domain in [d.text for d in provider.findall("domain")]
    incoming = provider.findall("incomingServer")
    outgoing = provider.findall("outgoingServer")
    assert incoming and outgoing
    for server in incoming + outgoing:
        kinds = {"imap", "pop3"} if server.tag == "incomingServer" else {"smtp"}
        assert server.get("type") in kinds
        assert server.findtext("hostname") == hostname
        # The live test server binds port 0 (any free port), so it cannot check this.
        assert not ports or 1 <= int(server.findtext("port") or "0") <= 65535
        assert server.findtext("socketType") in TB_SOCKET_TYPES - {"plain"}
        assert server.findtext("authentication") in TB_AUTH
        assert server.findtext("username") == "%EMAILADDRESS%"
    assert incoming[0].get("type") == "imap" and incoming[0].findtext("socketType") == "SSL"


def test_thunderbird_autoconfig_follows_the_clients_rules(tmp_path: Path) -> None:
    check_thunderbird(
        thunderbird_autoconfig(settings(tmp_path), "example.test"),
        "example.test",
        "mail.example.net",
    )


def check_outlook(xml: bytes, email: str, hostname: str) -> None:
    """The POX response schema: Autodiscover/Response/Account/Protocol, namespaces."""
    root = ET.fromstring(xml)  # noqa: S314 - our own output
    assert root.tag == f"{{{AUTODISCOVER_RESPONSE_NS}}}Autodiscover"
    ns = {"r": OUTLOOK_RESPONSE_NS}
    account = root.find("r:Response/r:Account", ns)
    assert account is not None
    assert account.findtext("r:AccountType", namespaces=ns) == "email"
    assert account.findtext("r:Action", namespaces=ns) == "settings"
    protocols = account.findall("r:Protocol", ns)
    assert [p.findtext("r:Type", namespaces=ns) for p in protocols] == ["IMAP", "SMTP"]
    order = ["Type", "Server", "Port", "DomainRequired", "LoginName", "SPA", "SSL"]
    for protocol in protocols:
        tags = [child.tag.split("}")[1] for child in protocol]
        assert [t for t in tags if t in order] == order
        assert protocol.findtext("r:Server", namespaces=ns) == hostname
        assert protocol.findtext("r:LoginName", namespaces=ns) == email
        assert protocol.findtext("r:SPA", namespaces=ns) == "off"
        assert protocol.findtext("r:SSL", namespaces=ns) == "on"
        assert protocol.findtext("r:AuthRequired", namespaces=ns) == "on"


def test_outlook_autodiscover_pox_follows_the_response_schema(tmp_path: Path) -> None:
    check_outlook(
        autodiscover_pox(settings(tmp_path), "info@example.test"),
        "info@example.test",
        "mail.example.net",
    )


def test_the_autodiscover_request_address_is_read_from_the_pox_body() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft'
        b'.com/exchange/autodiscover/outlook/requestschema/2006"><Request>'
        b"<EMailAddress>Info@Example.test</EMailAddress><AcceptableResponseSchema>"
        b"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
        b"</AcceptableResponseSchema></Request></Autodiscover>"
    )
    assert autodiscover_request_email(body) == "Info@Example.test"
    assert autodiscover_request_email(b"<Autodiscover/>") is None


def test_autodiscover_json_points_to_the_pox_endpoint_on_the_public_url(tmp_path: Path) -> None:
    status, body = autodiscover_json(settings(tmp_path), "AutodiscoverV1")
    assert status == 200
    assert body == {
        "Protocol": "AutodiscoverV1",
        "Url": "https://manager.example.net/autodiscover/autodiscover.xml",
    }
    status, body = autodiscover_json(settings(tmp_path), "ActiveSync")
    assert status == 400 and body["ErrorCode"] == "InvalidProtocol"


def check_apple(profile: bytes, email: str, password: str | None) -> dict[str, object]:
    data = plistlib.loads(profile)
    assert data["PayloadType"] == "Configuration" and data["PayloadVersion"] == 1
    for key in ("PayloadIdentifier", "PayloadUUID", "PayloadDisplayName", "PayloadContent"):
        assert data[key]
    (payload,) = data["PayloadContent"]
    assert payload["PayloadType"] == APPLE_MAIL_PAYLOAD
    assert set(payload) >= APPLE_REQUIRED
    assert payload["EmailAccountType"] in {"EmailTypeIMAP", "EmailTypePOP"}
    assert payload["EmailAddress"] == email
    assert payload["IncomingMailServerAuthentication"] == "EmailAuthPassword"
    assert payload["IncomingMailServerUseSSL"] is True
    assert payload["OutgoingMailServerUseSSL"] is True
    assert payload.get("IncomingPassword") == password
    assert payload.get("OutgoingPassword") == password
    return dict(payload)


def test_the_apple_profile_parses_with_plistlib_and_has_the_required_keys(
    tmp_path: Path,
) -> None:
    generic = mobileconfig(settings(tmp_path), "info@example.test")
    check_apple(generic, "info@example.test", None)
    with_password = mobileconfig(
        settings(tmp_path), "info@example.test", "Info", "s3cretPassw0rdXYZab"
    )
    payload = check_apple(with_password, "info@example.test", "s3cretPassw0rdXYZab")
    assert payload["IncomingMailServerPortNumber"] == 993
    assert payload["OutgoingMailServerPortNumber"] == 465


def test_the_dns_records_name_the_configured_hostname(tmp_path: Path) -> None:
    records = {(r.name, r.type): r.value for r in dns_records(settings(tmp_path), "example.test")}
    assert records[("example.test.", "MX")] == "10 mail.example.net."
    assert records[("_imaps._tcp.example.test.", "SRV")] == "0 1 993 mail.example.net."
    assert records[("_submissions._tcp.example.test.", "SRV")] == "0 1 465 mail.example.net."
    assert records[("_pop3s._tcp.example.test.", "SRV")] == "10 1 995 mail.example.net."
    assert records[("autoconfig.example.test.", "CNAME")] == "manager.example.net."
    assert records[("autodiscover.example.test.", "CNAME")] == "manager.example.net."


def test_no_record_points_at_the_address_bind_gives_and_a_warning_says_why(
    tmp_path: Path,
) -> None:
    unset = settings(tmp_path).model_copy(update={"public_url": "", "bind": "127.0.0.1"})
    records = dns_records(unset, "example.test")
    assert not [r for r in records if "127.0.0.1" in r.value]
    assert not [r for r in records if r.type == "CNAME"]
    assert ("_autodiscover._tcp.example.test.", "SRV") not in {(r.name, r.type) for r in records}
    assert ("example.test.", "MX") in {(r.name, r.type) for r in records}
    [warning] = dns_warnings(unset)
    assert "public_url is not set" in warning and "127.0.0.1, an IP address" in warning
    assert dns_warnings(settings(tmp_path)) == []


def test_a_hostname_that_is_an_address_gets_no_mx_or_srv_but_a_warning(tmp_path: Path) -> None:
    address = settings(tmp_path).model_copy(update={"hostname": "192.0.2.7"})
    records = {(r.name, r.type): r.value for r in dns_records(address, "example.test")}
    assert ("example.test.", "MX") not in records
    assert ("_imaps._tcp.example.test.", "SRV") not in records
    assert records[("example.test.", "TXT")] == "v=spf1 mx ip4:192.0.2.7 -all"
    assert records[("autoconfig.example.test.", "CNAME")] == "manager.example.net."
    [warning] = dns_warnings(address)
    assert warning.startswith("hostname is 192.0.2.7, an IP address")
