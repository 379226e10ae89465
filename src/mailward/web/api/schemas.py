"""The API's bodies. Output models take their fields from the core's views
(:func:`fields_of`), narrowing a few to the values they can take; none holds a secret
except :class:`NewDevicePassword` and :class:`NewApiToken`, sent once."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from mailward.core.accounts.apitokens import ApiTokenView, IssuedApiToken
from mailward.core.addresses.service import AddressPage as AddressPageView
from mailward.core.addresses.service import AddressUserView, AddressView
from mailward.core.audit.events import AuditEventView
from mailward.core.devices.views import DeviceView
from mailward.core.devices.views import NewDevicePassword as NewDevicePasswordView
from mailward.core.invitations.service import InvitationView
from mailward.core.mailservices.domainproof import VerificationRecord as RecordView
from mailward.core.mailservices.service import MailServiceView
from mailward.core.names import refuse_control_characters
from mailward.core.organizations.service import MemberView, OrganizationView
from mailward.core.pages import Page
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


def fields_of(view: type, *, omit: tuple[str, ...] = (), **narrowed: Any) -> dict[str, Any]:
    """A core view's fields, in its order, as a model's annotations (``__annotations__ =
    fields_of(...)``): ``narrowed`` gives some a narrower type (the values a ``str`` can
    take, a nested view's API model), ``omit`` leaves some out of the API."""
    hints = get_type_hints(view)
    names = [f.name for f in dataclasses.fields(view)]
    unknown = (set(narrowed) | set(omit)) - set(names)
    if unknown:
        raise TypeError(f"{view.__name__} has no field {', '.join(sorted(unknown))}")
    return {n: narrowed.get(n, hints[n]) for n in names if n not in omit}


class Organization(View):
    __annotations__ = fields_of(OrganizationView, role=RoleName)


GrantState = Literal["pending", "accepted"]


class Member(View):
    """A member (``accepted``), or a person offered a role who has not answered
    (``pending``: no name, nothing about their account)."""

    __annotations__ = fields_of(MemberView, role=RoleName, state=GrantState)


class MemberIn(BaseModel):
    email: Email
    role: RoleName


class RoleIn(BaseModel):
    role: RoleName


class VerificationRecord(View):
    """The DNS TXT record that proves the organization controls the domain."""

    __annotations__ = fields_of(RecordView, type=Literal["TXT"])


class MailService(View):
    """``pending`` until the domain's verification record is seen (``verify``); only a
    ``verified`` Mail Service receives mail and lets its devices log in."""

    __annotations__ = fields_of(
        MailServiceView,
        state=Literal["pending", "verified"],
        record=VerificationRecord | None,
    )


class MailServiceIn(BaseModel):
    domain: Annotated[str, text(255, 1), Printable]


class Address(View):
    __annotations__ = fields_of(AddressView)


class AddressIn(BaseModel):
    local_part: Annotated[str, text(64, 1), Printable]
    display_name: Annotated[str, text(200), Printable] = ""


class AddressPage(View):
    __annotations__ = fields_of(AddressPageView, items=list[Address])


class AddressUser(View):
    """A user of the address (``accepted``), or a person offered its use who has not
    answered (``pending``: no name, nothing about their account)."""

    __annotations__ = fields_of(AddressUserView, state=GrantState)


class AddressUserIn(BaseModel):
    email: Email


Status = Literal["active", "expired", "revoked"]


class Device(View):
    __annotations__ = fields_of(
        DeviceView, password_kind=Literal["generated", "chosen"], status=Status
    )


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

    __annotations__ = fields_of(NewDevicePasswordView, device=Device)


class AuditEvent(View):
    __annotations__ = fields_of(AuditEventView)


class AuditPage(View):
    """One page, newest first; ``next_cursor`` (older events) and ``previous_cursor``
    (newer ones) are passed back as ``cursor``, absent at either end."""

    __annotations__ = fields_of(Page, items=list[AuditEvent])


class ApiToken(View):
    __annotations__ = fields_of(ApiTokenView, status=Status)


class ApiTokenIn(BaseModel):
    name: Name
    expires_at: datetime | None = None


class NewApiToken(View):
    """Sent once, with ``Cache-Control: no-store``."""

    __annotations__ = fields_of(IssuedApiToken, token=ApiToken)


class DeviceAccessIn(BaseModel):
    """A device's access options; omitted protocols = all, omitted networks = any."""

    expires_at: datetime | None = None
    protocols: list[Protocol] | None = Field(None, min_length=1)
    networks: list[Annotated[str, text(64, 1), Printable]] | None = Field(None, max_length=50)


class InvitationIn(BaseModel):
    user_email: Email = Field(description="a user of the address, who obtains the password")
    device_name: Name


class Invitation(View):
    __annotations__ = fields_of(
        InvitationView,
        omit=("organization_id", "organization"),
        status=Literal["pending", "used", "cancelled", "expired"],
    )


class NewInvitation(BaseModel):
    """The setup-assistant link, in this response only (``Cache-Control: no-store``)."""

    invitation: Invitation
    link: str
