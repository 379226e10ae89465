"""Bounces of the outbound spool: a delivery status notification (RFC 3464: a
multipart/report with a line for people, one delivery-status block per recipient
given up on, and the headers of the returned message) for the envelope sender."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.utils import make_msgid

from mailward.mail.spool import SpoolEntry

ENHANCED_STATUS = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\b")


@dataclass(frozen=True)
class Refusal:
    """Why one recipient was not delivered: the smarthost's answer, or (code 0) ours."""

    recipient: str
    code: int
    reason: str

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600

    @property
    def status(self) -> str:
        """The enhanced status code (RFC 3463) the answer carried, else a generic one."""
        found = ENHANCED_STATUS.match(self.reason)
        if found:
            return found.group(1)
        return "5.0.0" if self.permanent else "4.4.7"  # 4.4.7: delivery time expired

    def diagnostic(self) -> str:
        return f"smtp; {self.code} {self.reason}" if self.code else f"x-mailward; {self.reason}"


def given_up(recipients: list[str], reason: str) -> list[Refusal]:
    """The same ``reason`` (ours, not a smarthost's answer) for every recipient."""
    return [Refusal(recipient, 0, reason) for recipient in recipients]


def bounce_message(
    entry: SpoolEntry, refusals: list[Refusal], content: bytes, hostname: str, when: str
) -> bytes:
    boundary = f"mailward-report-{secrets.token_hex(8)}"
    recipients = ", ".join(r.recipient for r in refusals)
    reasons = "".join(f"{r.recipient}: {one_line(r.reason)}\r\n" for r in refusals)
    parts = [
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Your message to {recipients} could not be delivered.\r\n"
        f"Attempts: {entry.attempts}.\r\n{reasons}",
        "Content-Type: message/delivery-status\r\n\r\n"
        + delivery_status(entry, refusals, hostname),
        "Content-Type: text/rfc822-headers\r\n\r\n" + returned_headers(content),
    ]
    text = (
        f"From: Mail Delivery System <mailer-daemon@{hostname}>\r\n"
        f"To: <{entry.mail_from}>\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {when}\r\n"
        f"Message-ID: {make_msgid(domain=hostname)}\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n" + "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    )
    return text.encode("utf-8", "replace")


def delivery_status(entry: SpoolEntry, refusals: list[Refusal], hostname: str) -> str:
    fields = f"Reporting-MTA: dns; {hostname}\r\nArrival-Date: {entry.queued_at}\r\n"
    for refusal in refusals:
        fields += (
            f"\r\nFinal-Recipient: rfc822; {refusal.recipient}\r\n"
            f"Action: failed\r\nStatus: {refusal.status}\r\n"
            f"Diagnostic-Code: {one_line(refusal.diagnostic())}\r\n"
        )
    return fields


def returned_headers(content: bytes) -> str:
    head = content.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return head.decode("utf-8", "replace").replace("\n", "\r\n") + "\r\n"


def one_line(text: str) -> str:
    return " ".join(text.split())[:500]
