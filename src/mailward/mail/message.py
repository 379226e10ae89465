"""What the SMTP edges add to a message: a Received line, and for submissions a
Message-ID and Date when the client left them out."""

from __future__ import annotations

import secrets
from datetime import datetime
from email.utils import format_datetime, make_msgid


def header_block(content: bytes) -> bytes:
    """The header section (up to the first empty line), lower-cased for lookups."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = content.find(separator)
        if end != -1:
            return b"\n" + content[:end].lower()
    return b"\n" + content.lower()


def has_header(content: bytes, name: str) -> bool:
    headers = header_block(content).replace(b"\r\n", b"\n")
    return b"\n" + name.lower().encode() + b":" in headers


def queue_id() -> str:
    return secrets.token_hex(8).upper()


def received_line(
    helo: str | None, peer: str, hostname: str, protocol: str, qid: str, now: datetime
) -> bytes:
    """``protocol`` is ESMTP, ESMTPS or ESMTPSA (RFC 3848)."""
    helo_text = "".join(c for c in (helo or "unknown") if c.isprintable() and c not in "()")
    line = (
        f"Received: from {helo_text[:100]} ([{peer}])\r\n"
        f"\tby {hostname} (Mailward) with {protocol} id {qid};\r\n"
        f"\t{format_datetime(now)}\r\n"
    )
    return line.encode("ascii", "replace")


def completed_headers(content: bytes, hostname: str, now: datetime) -> bytes:
    """Message-ID and Date lines the message lacks."""
    added = b""
    if not has_header(content, "message-id"):
        added += f"Message-ID: {make_msgid(domain=hostname)}\r\n".encode("ascii", "replace")
    if not has_header(content, "date"):
        added += f"Date: {format_datetime(now)}\r\n".encode()
    return added


def prepend(content: bytes, *lines: bytes) -> bytes:
    return b"".join(lines) + content
