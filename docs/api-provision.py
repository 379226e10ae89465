#!/usr/bin/env python3
"""Provision a Mail Service, an address and a device through the Mailward API alone,
then sign in over IMAP with the device password the API returned (and nothing else).

Standard library only. Settings come from the environment:

    MAILWARD_API            e.g. https://mail.example.com/api/v1
    MAILWARD_TOKEN          a personal API token, mwt_... (made in the manager)
    MAILWARD_DOMAIN         the domain of the new Mail Service, e.g. example.com
    MAILWARD_IMAP_HOST      the IMAP server (default: the API's host)
    MAILWARD_IMAP_PORT      its implicit-TLS port (default 993)
    MAILWARD_TLS_INSECURE   1 to accept a self-signed certificate (tests, first start)

The first run claims the domain and, until its verification record is published in DNS,
prints the record and exits with status 2; run it again once the record is out.

The device password is used once, to sign in, and never printed.
"""

from __future__ import annotations

import imaplib
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

API = os.environ["MAILWARD_API"].rstrip("/")
TOKEN = os.environ["MAILWARD_TOKEN"]
DOMAIN = os.environ["MAILWARD_DOMAIN"]
IMAP_HOST = os.environ.get("MAILWARD_IMAP_HOST") or urllib.parse.urlsplit(API).hostname or ""
IMAP_PORT = int(os.environ.get("MAILWARD_IMAP_PORT", "993"))
INSECURE = os.environ.get("MAILWARD_TLS_INSECURE") == "1"


def call(
    method: str, path: str, body: dict[str, Any] | None = None, allow: int | None = None
) -> Any:
    """One API call; a problem+json error stops the script with its detail, except the
    status ``allow``, answered as ``None``."""
    request = urllib.request.Request(  # noqa: S310 (the URL is the operator's API)
        API + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == allow:
            return None
        problem = json.load(error)
        sys.exit(f"{method} {path}: {error.code} {problem['title']}: {problem['detail']}")


def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    if INSECURE:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def verified_mail_service(organization_id: int) -> Any:
    """The organization's Mail Service for DOMAIN (claimed on the first run), verified:
    while its DNS record is not published yet, say which one and stop."""
    path = f"/organizations/{organization_id}/mail-services"
    mail_service = call("POST", path, {"domain": DOMAIN}, allow=409) or next(
        m for m in call("GET", path) if m["domain"] == DOMAIN
    )
    if mail_service["state"] != "verified":
        mail_service = call("POST", f"/mail-services/{mail_service['id']}/verify")
    if mail_service["state"] != "verified":
        record = mail_service["record"]
        print(mail_service["check_message"])
        print(f'publish, then run again: {record["name"]} TXT "{record["value"]}"')
        sys.exit(2)
    return mail_service


def main() -> None:
    organization = call("GET", "/organizations")[0]
    print(f"organization: {organization['name']} (you are {organization['role']})")
    mail_service = verified_mail_service(organization["id"])
    print(f"mail service: {mail_service['domain']} (id {mail_service['id']}, verified)")
    address = call(
        "POST",
        f"/mail-services/{mail_service['id']}/addresses",
        {"local_part": "contact", "display_name": "Contact form"},
    )
    print(f"address: {address['email']} (id {address['id']})")
    created = call("POST", f"/addresses/{address['id']}/devices", {"name": "Website contact form"})
    device, password = created["device"], created["password"]
    print(f"device: {device['name']} (id {device['id']}, {device['password_kind']} password)")
    with imaplib.IMAP4_SSL(IMAP_HOST, IMAP_PORT, ssl_context=tls_context()) as imap:
        imap.login(address["email"], password)
        status, _ = imap.select("INBOX")
        print(f"IMAP login OK as {address['email']}; INBOX select: {status}")


if __name__ == "__main__":
    main()
