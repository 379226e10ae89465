"""Normalizing the names people type: domains, local parts, emails, device names."""

from __future__ import annotations

import re

from mailward.errors import InvalidInput

_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(value: str) -> str:
    """IDNA-encode and lower-case a domain: ``Exämple.CH`` → ``xn--exmple-cua.ch``."""
    domain = value.strip().rstrip(".").lower()
    if not domain:
        raise InvalidInput("domain", "is empty")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidInput("domain", f"{value!r} is not a valid domain name") from exc
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > 253 or not all(_LABEL.match(x) for x in labels):
        raise InvalidInput("domain", f"{value!r} is not a valid domain name (like example.com)")
    if labels[-1].isdigit():
        raise InvalidInput("domain", f"{value!r} is not a valid domain name (like example.com)")
    return ascii_domain


def normalize_local_part(value: str) -> str:
    local = value.strip().lower()
    if not local or len(local) > 64 or not _LOCAL_PART.match(local):
        raise InvalidInput(
            "local part",
            f"{value!r} is not a valid address name (letters, digits, dots, - _ +; at most 64)",
        )
    return local


def split_address(value: str) -> tuple[str, str]:
    """``Local@Domain`` → (normalized local part, normalized domain)."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local:
        raise InvalidInput("address", f"{value!r} is not an email address (local@domain)")
    return normalize_local_part(local), normalize_domain(domain)


def normalize_email(value: str) -> str:
    local, domain = split_address(value)
    return f"{local}@{domain}"


def clean_name(value: str, field_name: str = "name", max_length: int = 120) -> str:
    name = " ".join(value.split())
    if not name:
        raise InvalidInput(field_name, "is empty")
    if len(name) > max_length:
        raise InvalidInput(field_name, f"is longer than {max_length} characters")
    if any(ord(c) < 32 for c in name):
        raise InvalidInput(field_name, "contains control characters")
    return name
