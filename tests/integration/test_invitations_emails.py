"""Invitation and security-notice emails: proper MIME, local delivery, honest results."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

from mailward.core.devices import DeviceOptions
from mailward.core.invitations import InvitationService
from mailward.core.notifications import (
    DeliveringMailer,
    NullMailer,
    SecurityNotices,
    invitation_message,
)
from tests.support import World


class FakeStore:
    def __init__(self) -> None:
        self.delivered: list[tuple[list[int], bytes]] = []

    async def deliver(self, address_ids: object, content: bytes) -> None:
        self.delivered.append((list(address_ids), content))  # type: ignore[call-overload]


class FakeRelay:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str]]] = []
        self.contents: list[bytes] = []

    async def relay(self, sender: str, recipients: list[str], content: bytes) -> None:
        self.sent.append((sender, recipients))
        self.contents.append(content)


async def test_the_invitation_email_has_text_and_html_and_the_link(world: World) -> None:
    await world.services.addresses.create_by_email(world.admin, "ursula@example.test")
    await world.services.addresses.add_user(world.admin, world.address, world.user.label)
    new = await InvitationService(world.services.deps, world.services.devices).create(
        world.admin, world.address, world.user.label, "Phone"
    )
    link = new.link("https://manager.example.test")
    message = invitation_message(
        "mailward@example.test", new.invitation, link, new.invitation.created_at
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["From"] == "mailward@example.test" and parsed["To"] == world.user.label
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    assert link in text.get_content() and f'href="{link}"' in html.get_content()
    assert "info@example.test" in parsed["Subject"]


async def test_a_local_recipient_gets_it_in_the_inbox_and_a_remote_one_is_reported(
    world: World,
) -> None:
    store = FakeStore()
    mailer = DeliveringMailer(world.services.db, store, None)
    message = EmailMessage()
    message["From"] = "mailward@example.test"
    message["To"] = "info@example.test, someone@elsewhere.test"
    message.set_content("hello")
    result = await mailer.send(message)
    assert result.delivered == ["info@example.test"]
    assert result.undelivered == ["someone@elsewhere.test"]
    assert "no smarthost" in result.reason and not result.ok
    assert store.delivered and store.delivered[0][0] == [1]

    relay = FakeRelay()
    result = await DeliveringMailer(world.services.db, store, relay).send(message)
    assert result.ok and relay.sent == [("mailward@example.test", ["someone@elsewhere.test"])]


async def test_the_null_mailer_says_nothing_was_sent() -> None:
    message = EmailMessage()
    message["To"] = "a@example.test"
    result = await NullMailer().send(message)
    assert not result.ok and result.undelivered == ["a@example.test"] and result.reason


async def test_device_changes_notify_the_address_users_and_the_administrators(
    world: World,
) -> None:
    await world.services.addresses.add_user(world.admin, world.address, world.user.label)
    store, relay = FakeStore(), FakeRelay()
    notices = SecurityNotices(
        world.services.db, DeliveringMailer(world.services.db, store, relay), "mw@example.test"
    )
    world.services.events.subscribe(notices.device_changed)
    new = await world.services.devices.add(
        world.admin, world.address, "CRM", options=DeviceOptions()
    )
    await world.services.devices.change_password(world.admin, world.address, new.device.id)
    await world.services.devices.revoke(world.admin, world.address, new.device.id)
    assert len(relay.sent) == 3
    recipients = relay.sent[0][1]
    assert recipients == ["admin@corp.test", "legal@corp.test", "user@corp.test"]
    # Who, which device, when and from where; never the password.
    parsed = email.message_from_bytes(relay.contents[1], policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert "changed" in parsed["Subject"] and "CRM" in parsed["Subject"]
    text = parsed.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "admin@corp.test" in body and "192.0.2.2" in body and "2026-11-24 12:00" in body
    assert new.password.encode() not in b"".join(relay.contents)
