"""Invitation and security-notice emails: proper MIME, local delivery, honest results."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

from mailward.core.devices.service import DeviceOptions
from mailward.core.invitations.service import InvitationService
from mailward.core.notifications import NullMailer, SecurityNotices, invitation_message
from mailward.mail.directory import DatabaseDirectory
from mailward.mail.maildir import MailStore
from mailward.mail.outbound import smarthost_of
from mailward.mail.outbox import Outbox, OutboxMailer
from mailward.mail.spool import Spool
from tests.support import World, accept_offers


def outbox_mailer(world: World, smarthost: bool) -> tuple[OutboxMailer, Spool]:
    """The service's one outbound path, with or without a smarthost configured."""
    update = {"smarthost": "127.0.0.1", "smarthost_port": 9} if smarthost else {}
    settings = world.services.settings.model_copy(update=update)
    outbox = Outbox(
        Spool(settings.data_dir / "spool", world.services.clock),
        MailStore(settings.mail_dir),
        DatabaseDirectory(world.services.db, world.services.mail_services),
        smarthost_of(settings),
        settings.hostname,
    )
    return OutboxMailer(outbox), outbox.spool


def inbox(world: World, address_id: int) -> list[bytes]:
    new = world.services.settings.mail_dir / str(address_id) / "new"
    return [path.read_bytes() for path in sorted(new.glob("*"))] if new.exists() else []


async def test_the_invitation_email_has_text_and_html_and_the_link(world: World) -> None:
    await world.services.addresses.create_by_email(world.admin, "ursula@example.test")
    await world.services.addresses.add_user(world.admin, world.address, world.user.label)
    await accept_offers(world.services, world.user)
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
    mailer, spool = outbox_mailer(world, smarthost=False)
    message = EmailMessage()
    message["From"] = "mailward@example.test"
    message["To"] = "info@example.test, someone@elsewhere.test"
    message.set_content("hello")
    result = await mailer.send(message)
    assert result.delivered == ["info@example.test"]
    assert result.undelivered == ["someone@elsewhere.test"]
    assert "no smarthost" in result.reason and not result.ok
    assert len(inbox(world, 1)) == 1 and spool.entries() == []

    mailer, spool = outbox_mailer(world, smarthost=True)
    result = await mailer.send(message)
    assert result.ok and result.queued == ["someone@elsewhere.test"]
    assert "queued for delivery" in result.summary("The invitation")
    [entry] = spool.entries()
    assert (entry.mail_from, entry.recipients) == ("mailward@example.test", result.queued)


async def test_the_null_mailer_says_nothing_was_sent() -> None:
    message = EmailMessage()
    message["To"] = "a@example.test"
    result = await NullMailer().send(message)
    assert not result.ok and result.undelivered == ["a@example.test"] and result.reason


async def test_device_changes_notify_the_address_users_and_the_administrators(
    world: World,
) -> None:
    await world.services.addresses.add_user(world.admin, world.address, world.user.label)
    await accept_offers(world.services, world.user)
    mailer, spool = outbox_mailer(world, smarthost=True)
    notices = SecurityNotices(world.services.db, mailer, "mw@example.test")
    world.services.events.subscribe(notices.device_changed, only_here=True)
    new = await world.services.devices.add(
        world.admin, world.address, "CRM", options=DeviceOptions()
    )
    await world.services.devices.change_password(world.admin, world.address, new.device.id)
    await world.services.devices.revoke(world.admin, world.address, new.device.id)
    await world.services.events.close()  # the notices run in the background
    entries = sorted(spool.entries(), key=lambda e: e.queued_at)
    assert len(entries) == 3
    assert entries[0].recipients == ["admin@corp.test", "legal@corp.test", "user@corp.test"]
    contents = [spool.content(e) for e in entries]
    # Who, which device, when and from where; never the password.
    changed = [c for c in contents if b"changed" in c.split(b"\n\n")[0]]
    parsed = email.message_from_bytes(changed[0], policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert "changed" in parsed["Subject"] and "CRM" in parsed["Subject"]
    text = parsed.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "admin@corp.test" in body and "192.0.2.2" in body and "2026-11-24 12:00" in body
    assert new.password.encode() not in b"".join(contents)
