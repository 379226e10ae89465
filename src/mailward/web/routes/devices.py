"""The Devices tab: the table, Add a device, and each row's ⋮ actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Form, Request, Response

from mailward.core.audit.events import AuditEventView, AuditFilter, AuditTag
from mailward.core.devices.service import PROTOCOLS, DeviceOptions, DeviceView, NewDevicePassword
from mailward.core.pages import PageRequest
from mailward.core.passwords import MIN_LENGTH, suggest_password
from mailward.errors import Conflict, InvalidInput
from mailward.web.assistant import pending_invitations
from mailward.web.formatting import sentence
from mailward.web.forms import REFUSED, done_or_refused, go, template_page
from mailward.web.paths import devices_path
from mailward.web.routes.addresses import address_context
from mailward.web.routes.finished_forms import FinishedForms, new_submission
from mailward.web.state import render, web_state
from mailward.web.viewer import GoTo, SignedIn, Viewer, reauthenticated

router = APIRouter()

Text = Annotated[str, Form()]
Choices = Annotated[list[str] | None, Form()]
REGENERATE = "regenerate"
UNSENT_SHOWN_FOR = timedelta(days=7)
DEVICES_PER_PAGE = 50
# The pages that show a new password: the password is asked again first.
Adding = Annotated[Viewer, reauthenticated("/addresses/{address_id}/devices/new")]
Replacing = Annotated[
    Viewer, reauthenticated("/addresses/{address_id}/devices/{device_id}/password")
]


@router.get("/addresses/{address_id}/devices")
async def devices_tab(
    request: Request, viewer: SignedIn, address_id: int, revoked: bool = False, cursor: str = ""
) -> Response:
    """The live devices, a page at a time; the revoked ones behind their own link."""
    context = await address_context(request, viewer, address_id)
    found = await web_state(request).services.devices.page(
        viewer.actor, address_id, revoked, PageRequest(cursor or None, DEVICES_PER_PAGE)
    )
    context.update(tab="devices", found=found, revoked=revoked)
    context["notice"] = request.query_params.get("done")
    context["invitations"] = await pending_invitations(request, viewer, address_id)
    if context["manager"]:
        context["unsent"] = await _notices_not_sent(request, viewer, context)
    return render(request, "address_devices.html", context)


async def _notices_not_sent(
    request: Request, viewer: Viewer, context: dict[str, Any]
) -> list[AuditEventView]:
    """Security notices about this address's devices that could not be sent lately."""
    services = web_state(request).services
    query = AuditFilter(
        organization_id=context["organization"].id,
        address_id=context["address"].id,
        action=AuditTag.NOTICE_NOT_SENT,
        limit=3,
    )
    since = services.clock.now() - UNSENT_SHOWN_FOR
    return [e for e in await services.audit.list(viewer.actor, query) if e.at >= since]


def parse_expiry(value: str) -> datetime | None:
    """A date typed in the form: the device works until the end of that day (UTC)."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("expiry", "must be a date like 2026-12-31") from None
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _suggestion_fields(request: Request) -> dict[str, str]:
    suggestion = suggest_password(web_state(request).services.keys)
    return {"password": suggestion.password, "proof": suggestion.proof}


def finished_forms(request: Request) -> FinishedForms:
    """This app's forms that already showed their password: sent again (a reload), they
    lead to the device list."""
    state = request.app.state
    if not hasattr(state, "finished_forms"):
        state.finished_forms = FinishedForms()
    return cast(FinishedForms, state.finished_forms)


@dataclass(frozen=True)
class PasswordForm:
    """What the two forms that show a new password (add a device, modify its password)
    send besides their own fields."""

    password: str
    proof: str
    action: str
    submission: str


def _password_form(
    request: Request,
    address_id: int,
    password: Text = "",
    proof: Text = "",
    action: Text = "",
    submission: Text = "",
) -> PasswordForm:
    """The form's password fields; a form sent again after it showed its password (the
    browser's reload) goes to the device list instead."""
    if finished_forms(request).seen(submission):
        raise GoTo(f"{devices_path(address_id)}?done=shown")
    return PasswordForm(password, proof, action, submission)


SentPassword = Annotated[PasswordForm, Depends(_password_form)]


async def _prepare_add(request: Request, viewer: Viewer, address_id: int) -> dict[str, Any]:
    context = await address_context(request, viewer, address_id)
    await web_state(request).rights.require_manager(
        viewer.actor, context["organization"].id, "add devices"
    )
    users = await web_state(request).services.addresses.users(viewer.actor, address_id)
    context.update(tab="devices", users=users, protocols=PROTOCOLS, min_length=MIN_LENGTH)
    return context


@router.get("/addresses/{address_id}/devices/new")
async def add_device_form(request: Request, viewer: Adding, address_id: int) -> Response:
    context = await _prepare_add(request, viewer, address_id)
    form = {"user": "", "name": "", "expires": "", "protocols": list(PROTOCOLS)}
    context.update(form=form, submission=new_submission(), **_suggestion_fields(request))
    return render(request, "device_new.html", context)


@router.post("/addresses/{address_id}/devices/new")
async def add_device(
    request: Request,
    viewer: Adding,
    address_id: int,
    form: SentPassword,
    name: Text = "",
    user: Text = "",
    expires: Text = "",
    protocols: Choices = None,
) -> Response:
    context = await _prepare_add(request, viewer, address_id)
    context["form"] = {"user": user, "name": name, "expires": expires, "protocols": protocols or []}
    context["replaced"] = False

    async def add() -> NewDevicePassword:
        options = DeviceOptions(parse_expiry(expires), tuple(protocols or ()))
        return await web_state(request).services.devices.add(
            viewer.actor, address_id, name, user or None, form.password, form.proof, options
        )

    return await _password_answer(request, context, "device_new.html", form, add)


async def _password_answer(
    request: Request,
    context: dict[str, Any],
    template: str,
    form: PasswordForm,
    save: Callable[[], Awaitable[NewDevicePassword]],
) -> Response:
    """A new suggestion, the page again with the refusal (and a new suggestion when the
    chosen password clashed), or the new password shown once."""
    context.update(password=form.password, proof=form.proof, submission=form.submission)
    if form.action == REGENERATE:
        context.update(_suggestion_fields(request))
        return render(request, template, context)
    try:
        created = await save()
    except REFUSED as exc:
        context["error"] = sentence(exc)
        if isinstance(exc, Conflict):
            context.update(_suggestion_fields(request))
        return render(request, template, context, 400)
    finished_forms(request).add(form.submission)
    return _secret_page(request, context, created)


def _secret_page(request: Request, context: dict[str, Any], created: NewDevicePassword) -> Response:
    """The one response that shows the password. Never cached, never shown again."""
    settings = web_state(request).services.settings
    context.update(device=created.device, secret=created.password)
    context["server"] = {
        "hostname": settings.hostname,
        "imaps_port": settings.imaps_port,
        "submissions_port": settings.submissions_port,
        "pop3s_port": settings.pop3s_port,
    }
    return render(request, "device_secret.html", context)


async def device_context(
    request: Request, viewer: Viewer, address_id: int, device_id: int, action: str
) -> tuple[dict[str, Any], DeviceView]:
    context = await address_context(request, viewer, address_id)
    device = await web_state(request).services.devices.get(viewer.actor, address_id, device_id)
    own = device.user_email is not None and device.user_email == viewer.session.email
    if not (own and action == "revoke devices"):
        await web_state(request).rights.require_manager(
            viewer.actor, context["organization"].id, action
        )
    context.update(tab="devices", device=device, min_length=MIN_LENGTH)
    return context, device


def _action_path(address_id: int, device_id: int, action: str) -> str:
    return f"{devices_path(address_id)}/{device_id}/{action}"


@router.get("/addresses/{address_id}/devices/{device_id}/password")
async def password_form(
    request: Request, viewer: Replacing, address_id: int, device_id: int
) -> Response:
    context, _ = await device_context(
        request, viewer, address_id, device_id, "modify device passwords"
    )
    context.update(submission=new_submission(), **_suggestion_fields(request))
    return render(request, "device_password.html", context)


@router.post("/addresses/{address_id}/devices/{device_id}/password")
async def change_password(
    request: Request,
    viewer: Replacing,
    address_id: int,
    device_id: int,
    form: SentPassword,
) -> Response:
    context, _ = await device_context(
        request, viewer, address_id, device_id, "modify device passwords"
    )
    context["replaced"] = True

    def change() -> Awaitable[NewDevicePassword]:
        return web_state(request).services.devices.change_password(
            viewer.actor, address_id, device_id, form.password, form.proof
        )

    return await _password_answer(request, context, "device_password.html", form, change)


@router.get("/addresses/{address_id}/devices/{device_id}/rename")
async def rename_form(
    request: Request, viewer: SignedIn, address_id: int, device_id: int
) -> Response:
    context, device = await device_context(request, viewer, address_id, device_id, "rename devices")
    context["name"] = device.name
    return render(request, "device_rename.html", context)


@router.post("/addresses/{address_id}/devices/{device_id}/rename")
async def rename(
    request: Request, viewer: SignedIn, address_id: int, device_id: int, name: Text = ""
) -> Response:
    context, _ = await device_context(request, viewer, address_id, device_id, "rename devices")
    context["name"] = name
    action = web_state(request).services.devices.rename(viewer.actor, address_id, device_id, name)
    page = template_page(request, "device_rename.html", context)
    return await done_or_refused(action, page, f"{devices_path(address_id)}?done=renamed")


@router.get("/addresses/{address_id}/devices/{device_id}/revoke")
async def revoke_form(
    request: Request, viewer: SignedIn, address_id: int, device_id: int
) -> Response:
    context, _ = await device_context(request, viewer, address_id, device_id, "revoke devices")
    return render(request, "device_revoke.html", context)


@router.post("/addresses/{address_id}/devices/{device_id}/revoke")
async def revoke(request: Request, viewer: SignedIn, address_id: int, device_id: int) -> Response:
    await web_state(request).services.devices.revoke(viewer.actor, address_id, device_id)
    return go(f"{devices_path(address_id)}?done=revoked")
