"""A Mailer that keeps what it is given, for tests of the core (the web and end-to-end
tests read real mailboxes instead)."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import getaddresses

from mailward.core.notifications import NoticeMark, SendResult

CODE = re.compile(r"\b([A-Z2-9]{4})-([A-Z2-9]{4})-([A-Z2-9]{4})\b")


def code_in(message: EmailMessage) -> str:
    """The email-proof code of a message (``ABCD-EFGH-JKLM``), without its dashes."""
    body = message.get_body(("plain",))
    assert body is not None
    found = CODE.search(body.get_content())
    assert found, "no code in the message"
    return "".join(found.groups())


class CapturingMailer:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage, notice: NoticeMark | None = None) -> SendResult:
        self.sent.append(message)
        return SendResult([addr for _, addr in getaddresses(message.get_all("To", []))])

    def recipients(self) -> list[str]:
        return [addr for m in self.sent for _, addr in getaddresses(m.get_all("To", []))]

    def code(self) -> str:
        assert self.sent, "no message was sent"
        return code_in(self.sent[-1])
