"""Keyset pages in the API: ``limit`` and ``cursor`` in, the page's cursors out.

Lists answered as a JSON array keep that shape and carry their cursors in a ``Link``
header (RFC 8288, ``rel="next"`` / ``rel="prev"``), as GitHub's API does; page objects
(the audit log, a Mail Service's addresses) carry them as ``next_cursor`` and
``previous_cursor``. Links are relative (path and query): the API never builds a URL
from the request's Host header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel

from mailward.core.pages import MAX_LIMIT, Page, PageRequest

M = TypeVar("M", bound=BaseModel)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=1000,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="``next_cursor`` or ``previous_cursor`` of a page (or its Link header)",
    ),
]


def link_pages(request: Request, response: Response, page: Page[Any]) -> None:
    """Link to the pages either side of this one, if there are any."""
    links = []
    for rel, cursor in (("next", page.next_cursor), ("prev", page.previous_cursor)):
        if cursor:
            target = request.url.include_query_params(cursor=cursor)
            links.append(f'<{target.path}?{target.query}>; rel="{rel}"')
    if links:
        response.headers["Link"] = ", ".join(links)


@dataclass(frozen=True)
class Paging:
    """A JSON-array list's page request, and its answer with the ``Link`` header."""

    request: Request
    response: Response
    page: PageRequest

    def answer(self, page: Page[Any], item: type[M]) -> list[M]:
        """The page's items as ``item``s, the pages either side in the ``Link`` header."""
        link_pages(self.request, self.response, page)
        return [item.model_validate(v) for v in page.items]


def paging(
    request: Request, response: Response, limit: Limit = 100, cursor: Cursor = None
) -> Paging:
    return Paging(request, response, PageRequest(cursor, limit))


Paged = Annotated[Paging, Depends(paging)]
