"""What a web form does with input the core refuses: the same page again with the
core's message (its first letter raised) and status 400, never a 500 or a traceback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from mailward.errors import AlreadyExists, Conflict, InvalidInput, MailwardError
from mailward.web.formatting import sentence
from mailward.web.state import render

# The core's answers to garbage or to a clash that a person can fix in the form.
REFUSED = (InvalidInput, AlreadyExists, Conflict)


def refused_form(
    request: Request,
    template: str,
    context: dict[str, Any],
    error: MailwardError,
    status_code: int = 400,
) -> Response:
    """``template`` re-rendered with ``context`` and the refusal as its ``error``."""
    context["error"] = sentence(error)
    return render(request, template, context, status_code)


async def done_or_refused(
    action: Awaitable[object], page: Callable[[str, int], Awaitable[Response]], done: str
) -> Response:
    """Run a form's action: on to ``done`` (303), or ``page`` again with the refusal."""
    try:
        await action
    except REFUSED as exc:
        return await page(sentence(exc), 400)
    return RedirectResponse(done, status_code=303)
