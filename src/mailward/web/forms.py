"""What a web form answers: on to the next page (303, so that a reload does not send the
form again), or, for input the core refuses, the same page again with the core's message
(its first letter raised) above the form, never a 500 or a traceback. Every manager form
answers through ``done_or_refused``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from mailward.errors import AlreadyExists, Conflict, InvalidInput, MailwardError
from mailward.web.formatting import sentence
from mailward.web.state import render

T = TypeVar("T")
# The core's answers to garbage or to a clash that a person can fix in the form.
REFUSED: tuple[type[MailwardError], ...] = (InvalidInput, AlreadyExists, Conflict)


class Page(Protocol):
    """A form's page again: ``error`` above the form, answered with ``status``."""

    def __call__(self, error: str, status: int) -> Awaitable[Response]: ...


def go(path: str) -> RedirectResponse:
    """On to ``path`` after a form: 303, the browser fetches it with GET."""
    return RedirectResponse(path, status_code=303)


def template_page(request: Request, template: str, context: dict[str, Any]) -> Page:
    """The form's ``template`` rendered again with ``context`` and the refusal."""

    async def page(error: str, status: int) -> Response:
        context["error"] = error
        return render(request, template, context, status)

    return page


async def done_or_refused(
    action: Awaitable[T],
    page: Page,
    done: str | Callable[[T], Response],
    refused: tuple[type[MailwardError], ...] = REFUSED,
    status: int = 400,
) -> Response:
    """Run a form's action: on to ``done`` (a path, or the answer made of the action's
    result), or ``page`` again with the refusal."""
    try:
        result = await action
    except refused as exc:
        return await page(sentence(exc), status)
    return go(done) if isinstance(done, str) else done(result)
