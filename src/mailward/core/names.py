"""Normalizing the names people type: domains, local parts, emails, device names.

Every entry point (web form, API, CLI, invitation) goes through these functions. Each
matches the whole string (``re.fullmatch``: ``$`` would accept a trailing newline) and
refuses control characters, invisible direction marks and over-long input with a
sentence a person can act on.
"""

from __future__ import annotations

import re

from mailward.errors import InvalidInput

_LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# Never valid in a name: controls (line breaks, tab, NUL, DEL, C1), line and paragraph
# separators, direction overrides and marks (a name would read differently from what it
# is), lone surrogates and private-use characters. One C-level search: this runs on
# every login name too.
_REFUSED = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff]"
)
MAX_DOMAIN = 253
MAX_LOCAL_PART = 64
MAX_EMAIL = MAX_LOCAL_PART + 1 + MAX_DOMAIN


def refuse_control_characters(value: str, field_name: str) -> None:
    """Raise :class:`InvalidInput` when ``value`` holds a character no name may hold."""
    if _REFUSED.search(value):
        raise InvalidInput(
            field_name, "contains a control character (a line break, tab or similar)"
        )


def _checked_text(value: str, field_name: str, max_length: int) -> str:
    """``value`` without surrounding spaces, after the checks every name shares. The
    length is checked first so that no later step works on a huge input."""
    if len(value) > max_length + 64:
        raise InvalidInput(field_name, f"is longer than {max_length} characters")
    refuse_control_characters(value, field_name)
    return value.strip(" ")


def normalize_domain(value: str) -> str:
    """IDNA-encode and lower-case a domain: ``Exämple.CH`` → ``xn--exmple-cua.ch``."""
    domain = _checked_text(value, "domain", MAX_DOMAIN).rstrip(".").lower()
    if not domain:
        raise InvalidInput("domain", "is empty")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidInput("domain", f"{value!r} is not a valid domain name") from exc
    labels = ascii_domain.split(".")
    valid = (
        len(labels) >= 2
        and len(ascii_domain) <= MAX_DOMAIN
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )
    if not valid:
        raise InvalidInput("domain", f"{value!r} is not a valid domain name (like example.com)")
    return ascii_domain


def normalize_local_part(value: str) -> str:
    local = _checked_text(value, "local part", MAX_LOCAL_PART).lower()
    if not local or len(local) > MAX_LOCAL_PART or not _LOCAL_PART.fullmatch(local):
        raise InvalidInput(
            "local part",
            f"{value!r} is not a valid address name (letters, digits, dots, - _ +; at most 64)",
        )
    return local


def split_address(value: str) -> tuple[str, str]:
    """``Local@Domain`` → (normalized local part, normalized domain)."""
    local, at, domain = _checked_text(value, "address", MAX_EMAIL).rpartition("@")
    if not at or not local:
        raise InvalidInput("address", f"{value!r} is not an email address (local@domain)")
    return normalize_local_part(local), normalize_domain(domain)


def normalize_email(value: str) -> str:
    local, domain = split_address(value)
    return f"{local}@{domain}"


def clean_name(value: str, field_name: str = "name", max_length: int = 120) -> str:
    """A display name or device name: runs of spaces become one, no control characters."""
    name = " ".join(_checked_text(value, field_name, max_length).split())
    if not name:
        raise InvalidInput(field_name, "is empty")
    if len(name) > max_length:
        raise InvalidInput(field_name, f"is longer than {max_length} characters")
    return name
