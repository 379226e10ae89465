"""The tables of Mailward's domain (DESIGN §2). No secret is ever stored in clear here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailward.db.base import Base, UTCDateTime, partial_index


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret_sealed: Mapped[str | None] = mapped_column(String(200))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(back_populates="account")


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Policy on devices (core/devices/policy.py): login history kept this many days;
    # unused devices noticed, then revoked, after these many days (both None: off).
    login_history_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    unused_notice_days: Mapped[int | None] = mapped_column(Integer, default=90, server_default="90")
    unused_revoke_days: Mapped[int | None] = mapped_column(
        Integer, default=120, server_default="120"
    )
    unused_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(back_populates="organization")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("account_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(40))

    account: Mapped[Account] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(back_populates="memberships")


class MailService(Base):
    """A domain claimed by an organization. Pending (``verified_at`` empty) until the
    organization proves control of the domain with a DNS TXT record; several
    organizations may hold pending claims of one domain, only one can be verified."""

    __tablename__ = "mail_services"
    __table_args__ = (
        UniqueConstraint("domain", "organization_id"),
        # An organization's Mail Services, in the order the lists page through them.
        Index("ix_mail_services_organization_id_domain", "organization_id", "domain"),
        partial_index(
            "uq_mail_services_verified_domain",
            "domain",
            where="verified_at IS NOT NULL",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Published in DNS by design: it proves nothing without control of the zone.
    verification_token: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    check_message: Mapped[str] = mapped_column(String(300), default="", server_default="")


class DkimKey(Base):
    """A Mail Service's DKIM signing key, published at ``SELECTOR._domainkey.DOMAIN``.
    Keys without ``retired_at`` sign; retired ones stay published until removed, so
    mail signed with them still verifies. The private key is sealed with the server
    key ring (never stored in clear)."""

    __tablename__ = "dkim_keys"
    __table_args__ = (UniqueConstraint("mail_service_id", "selector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_service_id: Mapped[int] = mapped_column(
        ForeignKey("mail_services.id", ondelete="CASCADE"), index=True
    )
    selector: Mapped[str] = mapped_column(String(63))
    algorithm: Mapped[str] = mapped_column(String(20))  # "rsa" | "ed25519"
    public_key: Mapped[str] = mapped_column(Text)  # the DNS record's p= value
    private_key_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Address(Base):
    __tablename__ = "addresses"
    __table_args__ = (UniqueConstraint("mail_service_id", "local_part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_service_id: Mapped[int] = mapped_column(ForeignKey("mail_services.id", ondelete="CASCADE"))
    local_part: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Argon2id salt of the address's chosen device passwords (one check finds any of
    # them, see core/passwords.py); made with the first chosen password.
    password_salt: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    # The Dovecot mailbox backend holding its mail (settings.mailbox_backends); none on
    # one machine, or for an address made before backends existed (the first backend).
    mailbox_backend: Mapped[str | None] = mapped_column(String(64), index=True)

    mail_service: Mapped[MailService] = relationship()

    def email_at(self, mail_service: MailService) -> str:
        """The address as mail software writes it. The caller passes the Mail Service it
        loaded: reading ``self.mail_service`` would lazy-load, which async code cannot."""
        return f"{self.local_part}@{mail_service.domain}"


class AddressUser(Base):
    __tablename__ = "address_users"
    __table_args__ = (UniqueConstraint("address_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Device(Base):
    """One device password of an address. ``password_lookup`` is the keyed hash of a
    generated password, or of a chosen one stretched with Argon2id under the address's
    salt (one index lookup finds either); ``password_hash`` is the older per-device
    Argon2id hash of a chosen one, until its next login converts it."""

    __tablename__ = "devices"
    __table_args__ = (
        Index("ix_devices_address_id_revoked_at", "address_id", "revoked_at"),
        # The Devices tab pages through an address's devices in id order.
        Index("ix_devices_address_id_id", "address_id", "id"),
        Index("ix_devices_user_account_id", "user_account_id"),  # a person's devices
        # Two racing "Add a device" with one name: one wins, the other is told.
        partial_index(
            "uq_devices_live_name", "address_id", "name", where="revoked_at IS NULL", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    user_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    password_kind: Mapped[str] = mapped_column(String(20))
    password_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    password_key_id: Mapped[str | None] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    last_used_protocol: Mapped[str | None] = mapped_column(String(10))
    last_used_client: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    allowed_protocols: Mapped[str] = mapped_column(String(40), default="imap,pop3,smtp")
    allowed_networks: Mapped[str] = mapped_column(Text, default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(320))
    # Unused-device expiry: when the "unused" notice went out, when someone kept it.
    unused_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeviceLogin(Base):
    """A device's login history: identical logins (same IP, protocol, result) within one
    flush of the recorder are one row with a ``count``. Pruned per the organization's
    ``login_history_days``."""

    __tablename__ = "device_logins"
    __table_args__ = (Index("ix_device_logins_device_id_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ip: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(10))
    client: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[str] = mapped_column(String(10))  # ok | wrong | limited
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class DeviceNetwork(Base):
    """A network (IPv4 /24, IPv6 /48) a device logged in from. ``notice``: ``first``
    (the device's first network, no notice), ``pending`` (to be told), ``sent``."""

    __tablename__ = "device_networks"
    __table_args__ = (
        UniqueConstraint("device_id", "network"),
        partial_index("ix_device_networks_pending", "device_id", where="notice = 'pending'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(10))
    client: Mapped[str | None] = mapped_column(String(200))
    notice: Mapped[str] = mapped_column(String(10))
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeviceChange(Base):
    """An append-only feed of device changes; every process polls it to drop cached
    credentials and end live sessions of a device changed elsewhere."""

    __tablename__ = "device_changes"
    __table_args__ = (Index("ix_device_changes_at", "at"),)  # pruning

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[int] = mapped_column(Integer)
    address_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_address_id_id", "address_id", "id"),
        Index("ix_invitations_expires_at", "expires_at"),  # pruning
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    device_name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))


class AuditEvent(Base):
    """Append-only. ``details`` never holds a secret."""

    __tablename__ = "audit_events"
    # One index per filter of the audit log, each ending with the id it pages by.
    __table_args__ = (
        Index("ix_audit_events_organization_id_id", "organization_id", "id"),
        Index("ix_audit_events_organization_id_action_id", "organization_id", "action", "id"),
        Index("ix_audit_events_organization_id_actor_id", "organization_id", "actor", "id"),
        Index("ix_audit_events_address_id_id", "address_id", "id"),
        Index("ix_audit_events_device_id_id", "device_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_account_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(320))
    actor_ip: Mapped[str | None] = mapped_column(String(64))
    organization_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(60))
    address_id: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(400), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WebSession(Base):
    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires_at", "expires_at"),)  # pruning

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    second_factor_done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sudo_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Grant(Base):
    """A role in an organization (``role`` set) or the use of an address (``address_id``
    set) offered to a person. It takes effect, as a Membership or an AddressUser, only
    when they accept it; the operator's grants are accepted at once."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_account_id_state", "account_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id", ondelete="CASCADE"))
    role: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))  # pending|accepted|declined|withdrawn
    offered_by: Mapped[str] = mapped_column(String(320))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EmailProof(Base):
    """A one-time code mailed to an account's email address: proof that whoever enters
    it controls that mailbox. Only its keyed hash is kept; it works once, briefly."""

    __tablename__ = "email_proofs"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    key_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Passkey(Base):
    """A WebAuthn credential of an account: its public key and sign count (the private
    key never leaves the authenticator). A sign count going backwards means a clone."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasskeyChallenge(Base):
    """A WebAuthn challenge: bound to the browser's session (keyed hash), used once."""

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    binding: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # register|second-factor|sign-in|sudo
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
