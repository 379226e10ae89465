"""The API's bodies. Output models are read from the core's views; none holds a secret
except :class:`NewDevicePassword` and :class:`NewApiToken`, sent once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from mailward.core.names import refuse_control_characters
from mailward.errors import InvalidInput

# Printable text only: control characters (NUL above all) never reach the database. The
# pattern documents it in the OpenAPI document (pydantic-core's regex reads ``$`` as the
# end of the text); ``Printable`` applies the core's one rule, the web forms' and CLI's.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


def text(max_length: int, min_length: int = 0) -> Any:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=PRINTABLE)


def _printable(value: str) -> str:
    try:
        refuse_control_characters(value, "text")
    except InvalidInput as exc:
        raise ValueError(exc.reason) from None
    return value


Printable = AfterValidator(_printable)


Name = Annotated[str, text(120, 1), Printable]
Email = Annotated[str, text(320, 3), Printable]
RoleName = Literal["legal_representative", "administrator", "user"]
Protocol = Literal["imap", "pop3", "smtp"]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Organization(View):
    id: int
    name: str
    role: RoleName


GrantState = Literal["pending", "accepted"]


class Member(View):
    """A member (``accepted``), or a person offered a role who has not answered
    (``pending``: no name, nothing about their account)."""

    email: str
    display_name: str
    role: RoleName
    state: GrantState


class MemberIn(BaseModel):
    email: Email
    role: RoleName


class RoleIn(BaseModel):
    role: RoleName


class VerificationRecord(View):
    """The DNS TXT record that proves the organization controls the domain."""

    name: str
    type: Literal["TXT"]
    value: str


class MailService(View):
    """``pending`` until the domain's verification record is seen (``verify``); only a
    ``verified`` Mail Service receives mail and lets its devices log in."""

    id: int
    organization_id: int
    domain: str
    display_domain: str
    address_count: int
    created_at: datetime
    state: Literal["pending", "verified"]
    verified_at: datetime | None
    record: VerificationRecord | None
    checked_at: datetime | None
    check_message: str


class MailServiceIn(BaseModel):
    domain: Annotated[str, text(255, 1), Printable]


class Address(View):
    id: int
    mail_service_id: int
    organization_id: int
    email: str
    display_name: str
    created_at: datetime


class AddressIn(BaseModel):
    local_part: Annotated[str, text(64, 1), Printable]
    display_name: Annotated[str, text(200), Printable] = ""


class AddressPage(View):
    items: list[Address]
    total: int
    page: int
    per_page: int


class AddressUser(View):
    """A user of the address (``accepted``), or a person offered its use who has not
    answered (``pending``: no name, nothing about their account)."""

    email: str
    display_name: str
    state: GrantState


class AddressUserIn(BaseModel):
    email: Email


class Device(View):
    id: int
    address_id: int
    address: str
    name: str
    user_email: str | None
    password_kind: Literal["generated", "chosen"]
    created_by: str
    created_at: datetime
    password_changed_at: datetime
    last_used_at: datetime | None
    last_used_ip: str | None
    last_used_protocol: str | None
    last_used_client: str | None
    expires_at: datetime | None
    allowed_protocols: list[str]
    allowed_networks: list[str]
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked"]


Password = Annotated[str, text(128, 1)]


class DeviceIn(BaseModel):
    name: Name
    user_email: Email | None = Field(None, description="a user of the address; none = without user")
    password: Password | None = Field(
        None, description="16+ characters chosen by you; omitted = a generated one (stronger)"
    )
    expires_at: datetime | None = None
    protocols: list[Protocol] | None = Field(None, min_length=1)
    networks: list[Annotated[str, text(64, 1), Printable]] | None = Field(None, max_length=50)


class DevicePasswordIn(BaseModel):
    password: Password | None = Field(None, description="omitted = a generated one")


class NewDevicePassword(View):
    """Sent once, with ``Cache-Control: no-store``; never readable again."""

    device: Device
    password: str


class AuditEvent(View):
    id: int
    at: datetime
    actor: str
    actor_ip: str | None
    organization_id: int | None
    action: str
    address_id: int | None
    device_id: int | None
    target: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEvent]
    limit: int
    offset: int


class ApiToken(View):
    id: int
    organization_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class ApiTokenIn(BaseModel):
    name: Name
    expires_at: datetime | None = None


class NewApiToken(View):
    """Sent once, with ``Cache-Control: no-store``."""

    token: ApiToken
    secret: str


class DeviceAccessIn(BaseModel):
    """A device's access options; omitted protocols = all, omitted networks = any."""

    expires_at: datetime | None = None
    protocols: list[Protocol] | None = Field(None, min_length=1)
    networks: list[Annotated[str, text(64, 1), Printable]] | None = Field(None, max_length=50)


class InvitationIn(BaseModel):
    user_email: Email = Field(description="a user of the address, who obtains the password")
    device_name: Name


class Invitation(View):
    id: int
    address_id: int
    address: str
    email: str
    device_name: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    cancelled_at: datetime | None
    device_id: int | None
    status: Literal["pending", "used", "cancelled", "expired"]


class NewInvitation(BaseModel):
    """The setup-assistant link, in this response only (``Cache-Control: no-store``)."""

    invitation: Invitation
    link: str
