"""What a mail client needs to know, and the standard documents that tell it (DESIGN §5).

Pure functions of the settings: server names and ports come from configuration, never
from a request. Documents: Thunderbird autoconfig, Outlook Autodiscover (POX and the
JSON redirect) and an Apple configuration profile. The DNS records a domain needs are
listed in core.mailservices.dns_records.
"""

from __future__ import annotations

import plistlib
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from mailward.settings import Settings

AUTODISCOVER_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_RESPONSE_NS = (
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)
APPLE_MAIL_PAYLOAD = "com.apple.mail.managed"
PROFILE_NAMESPACE = uuid.UUID("6f1c1f4e-7d0f-4a55-9d3b-6d61696c7761")

DEVICE_KINDS: dict[str, str] = {
    "thunderbird": "Thunderbird",
    "outlook": "Outlook",
    "iphone": "Apple Mail on iPhone or iPad",
    "mac": "Apple Mail on Mac",
    "android": "Android",
    "other": "Another mail program",
}
APPLE_KINDS = frozenset({"iphone", "mac"})
PHONE_KINDS = frozenset({"iphone", "android"})


@dataclass(frozen=True)
class Endpoint:
    """One server a client talks to."""

    protocol: str  # imap | pop3 | smtp
    hostname: str
    port: int
    security: str  # SSL (implicit TLS) | STARTTLS

    @property
    def security_label(self) -> str:
        return "SSL/TLS" if self.security == "SSL" else "STARTTLS"


@dataclass(frozen=True)
class ClientSettings:
    """The settings to type into a client, preferred first (implicit TLS, RFC 8314)."""

    email: str
    login: str
    incoming: Endpoint
    outgoing: Endpoint
    alternatives: tuple[Endpoint, ...]


def client_settings(settings: Settings, email: str) -> ClientSettings:
    host = settings.hostname
    return ClientSettings(
        email=email,
        login=email,
        incoming=Endpoint("imap", host, settings.imaps_port, "SSL"),
        outgoing=Endpoint("smtp", host, settings.submissions_port, "SSL"),
        alternatives=(
            Endpoint("imap", host, settings.imap_port, "STARTTLS"),
            Endpoint("pop3", host, settings.pop3s_port, "SSL"),
            Endpoint("smtp", host, settings.submission_port, "STARTTLS"),
        ),
    )


def web_host(settings: Settings) -> str:
    return urlsplit(settings.effective_public_url).hostname or settings.hostname


# -- Thunderbird -------------------------------------------------------------------


def _tb_server(tag: str, endpoint: Endpoint) -> str:
    return (
        f'    <{tag} type="{endpoint.protocol}">\n'
        f"      <hostname>{escape(endpoint.hostname)}</hostname>\n"
        f"      <port>{endpoint.port}</port>\n"
        f"      <socketType>{endpoint.security}</socketType>\n"
        "      <authentication>password-cleartext</authentication>\n"
        "      <username>%EMAILADDRESS%</username>\n"
        f"    </{tag}>\n"
    )


def thunderbird_autoconfig(
    settings: Settings, domain: str, more_domains: list[str] | None = None
) -> bytes:
    """``config-v1.1.xml``: the login is the whole address, any password the device's.
    One provider may list several domains (they all share the same servers)."""
    cs = client_settings(settings, f"user@{domain}")
    incoming = [cs.incoming, *(e for e in cs.alternatives if e.protocol != "smtp")]
    outgoing = [cs.outgoing, *(e for e in cs.alternatives if e.protocol == "smtp")]
    servers = "".join(_tb_server("incomingServer", e) for e in incoming)
    servers += "".join(_tb_server("outgoingServer", e) for e in outgoing)
    d = escape(domain)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<clientConfig version="1.1">\n'
        f'  <emailProvider id="{d}">\n'
        f"    <domain>{d}</domain>\n"
        + "".join(f"    <domain>{escape(m)}</domain>\n" for m in more_domains or ())
        + f"    <displayName>{d} (Mailward)</displayName>\n"
        f"    <displayShortName>{d}</displayShortName>\n"
        f"{servers}"
        "  </emailProvider>\n"
        "</clientConfig>\n"
    ).encode()


# -- Outlook -------------------------------------------------------------------------

_EMAIL_IN_REQUEST = re.compile(rb"<EMailAddress>\s*([^<\s]{3,320})\s*</EMailAddress>", re.I)


def autodiscover_request_email(body: bytes) -> str | None:
    """The address asked about in an Autodiscover POX request. A pattern, not an XML
    parser: the request comes from anyone and only this one element matters."""
    found = _EMAIL_IN_REQUEST.search(body[:20_000])
    return found.group(1).decode("utf-8", "replace") if found else None


def _pox_protocol(endpoint: Endpoint, login: str) -> str:
    kind = "IMAP" if endpoint.protocol == "imap" else endpoint.protocol.upper()
    ssl = "on" if endpoint.security == "SSL" else "off"
    encryption = "SSL" if endpoint.security == "SSL" else "TLS"
    return (
        "      <Protocol>\n"
        f"        <Type>{kind}</Type>\n"
        f"        <Server>{escape(endpoint.hostname)}</Server>\n"
        f"        <Port>{endpoint.port}</Port>\n"
        "        <DomainRequired>off</DomainRequired>\n"
        f"        <LoginName>{escape(login)}</LoginName>\n"
        "        <SPA>off</SPA>\n"
        f"        <SSL>{ssl}</SSL>\n"
        f"        <Encryption>{encryption}</Encryption>\n"
        "        <AuthRequired>on</AuthRequired>\n"
        "      </Protocol>\n"
    )


def autodiscover_pox(settings: Settings, email: str) -> bytes:
    cs = client_settings(settings, email)
    protocols = _pox_protocol(cs.incoming, cs.login) + _pox_protocol(cs.outgoing, cs.login)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Autodiscover xmlns="{AUTODISCOVER_RESPONSE_NS}">\n'
        f'  <Response xmlns="{OUTLOOK_RESPONSE_NS}">\n'
        "    <Account>\n"
        "      <AccountType>email</AccountType>\n"
        "      <Action>settings</Action>\n"
        f"{protocols}"
        "    </Account>\n"
        "  </Response>\n"
        "</Autodiscover>\n"
    ).encode()


def autodiscover_error(code: int, message: str) -> bytes:
    """The POX error response (600 invalid request, 601 provider unavailable)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Autodiscover xmlns="{AUTODISCOVER_RESPONSE_NS}">\n'
        "  <Response>\n"
        '    <Error Id="0" Time="00:00:00">\n'
        f"      <ErrorCode>{code}</ErrorCode>\n"
        f"      <Message>{escape(message)}</Message>\n"
        "      <DebugData />\n"
        "    </Error>\n"
        "  </Response>\n"
        "</Autodiscover>\n"
    ).encode()


def autodiscover_json(settings: Settings, protocol: str) -> tuple[int, dict[str, str]]:
    """Outlook's first question: where the POX endpoint is (only AutodiscoverV1)."""
    if protocol.lower() != "autodiscoverv1":
        return 400, {
            "ErrorCode": "InvalidProtocol",
            "ErrorMessage": "The given protocol value is invalid. Supported values are "
            "'AutodiscoverV1'",
        }
    url = f"{settings.effective_public_url}/autodiscover/autodiscover.xml"
    return 200, {"Protocol": "AutodiscoverV1", "Url": url}


# -- Apple -----------------------------------------------------------------------------


def _profile_uuid(*parts: str) -> str:
    return str(uuid.uuid5(PROFILE_NAMESPACE, "/".join(parts))).upper()


def _mail_payload(cs: ClientSettings, name: str, password: str | None) -> dict[str, Any]:
    ssl_in, ssl_out = cs.incoming.security == "SSL", cs.outgoing.security == "SSL"
    payload: dict[str, Any] = {
        "PayloadType": APPLE_MAIL_PAYLOAD,
        "PayloadVersion": 1,
        "PayloadIdentifier": f"mailward.mail.{cs.email}",
        "PayloadUUID": _profile_uuid("mail", cs.email),
        "PayloadDisplayName": cs.email,
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAccountDescription": cs.email,
        "EmailAccountName": name or cs.email,
        "EmailAddress": cs.email,
        "IncomingMailServerHostName": cs.incoming.hostname,
        "IncomingMailServerPortNumber": cs.incoming.port,
        "IncomingMailServerUseSSL": ssl_in,
        "IncomingMailServerUsername": cs.login,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": cs.outgoing.hostname,
        "OutgoingMailServerPortNumber": cs.outgoing.port,
        "OutgoingMailServerUseSSL": ssl_out,
        "OutgoingMailServerUsername": cs.login,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingPasswordSameAsIncomingPassword": True,
        "PreventMove": False,
        "PreventAppSheet": False,
        "SMIMEEnabled": False,
    }
    if password is not None:
        payload["IncomingPassword"] = password
        payload["OutgoingPassword"] = password
    return payload


def mobileconfig(
    settings: Settings, email: str, display_name: str = "", password: str | None = None
) -> bytes:
    """An Apple configuration profile for one address; with ``password`` the device's
    password is embedded (only in the response right after it was created)."""
    cs = client_settings(settings, email)
    return plistlib.dumps(
        {
            "PayloadType": "Configuration",
            "PayloadVersion": 1,
            "PayloadIdentifier": f"mailward.profile.{email}",
            "PayloadUUID": _profile_uuid("profile", email),
            "PayloadDisplayName": f"Mail: {email}",
            "PayloadDescription": f"Sets up {email} in Apple Mail ({settings.hostname}).",
            "PayloadOrganization": settings.hostname,
            "PayloadRemovalDisallowed": False,
            "PayloadContent": [_mail_payload(cs, display_name, password)],
        }
    )
