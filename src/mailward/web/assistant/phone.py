"""What a setup assistant's QR code opens on a phone: the one-time download of the
Apple profile, or a page with the new password, so that nobody types 20 characters on
a phone.

The download's secret travels in the URL's fragment (``/assistant/download#SECRET``),
which browsers never send: no access log, proxy log or Referer ever holds it. The
landing page's script reads it and posts it in the body of a form (with the page's
CSRF token); that POST answers the download, once, within minutes. The server keeps
only a hash of the secret (:class:`~mailward.web.assistant.downloads.OneTimeDownloads`).
"""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request, Response

from mailward.web.assistant.state import AssistantState, assistant_state
from mailward.web.state import render

router = APIRouter()

DOWNLOAD_PATH = "/assistant/download"
PASSWORD_PAGE = "text/x-mailward-password"  # shown as a page, not downloaded


def offer(state: AssistantState, filename: str, media_type: str, content: bytes) -> str:
    """Keep ``content`` for one download; the URL to open it (the secret in its fragment)."""
    token = state.downloads.put(filename, media_type, content)
    return f"{state.services.settings.effective_public_url}{DOWNLOAD_PATH}#{token}"


def qr_svg(data: str) -> str:
    return str(segno.make(data, error="m").svg_inline(scale=4, dark="#1f2a37", title="QR code"))


def page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    """An assistant page: never a Referer (its URL may hold a link's secret)."""
    response = render(request, f"assistant/{template}", context, status)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get(DOWNLOAD_PATH)
async def landing(request: Request) -> Response:
    """The page the QR code opens: its script posts the fragment's secret."""
    return page(request, "download.html", {}, 200)


@router.post(DOWNLOAD_PATH)
async def download(request: Request, token: Annotated[str, Form(max_length=200)]) -> Response:
    """The profile or the password: once, within minutes, never afterwards."""
    item = assistant_state(request).downloads.take(token)
    if item is None:
        return page(request, "download_gone.html", {}, 410)
    if item.media_type == PASSWORD_PAGE:
        context = {"secret": item.content.decode(), "device_name": item.filename}
        return page(request, "phone_password.html", context, 200)
    headers = {"Content-Disposition": f'attachment; filename="{item.filename}"'}
    return Response(item.content, media_type=item.media_type, headers=headers)
