"""Keyset pages in the API: ``limit`` and ``cursor`` in, the page's cursors out.

Lists answered as a JSON array keep that shape and carry their cursors in a ``Link``
header (RFC 8288, ``rel="next"`` / ``rel="prev"``), as GitHub's API does; page objects
(the audit log, a Mail Service's addresses) carry them as ``next_cursor`` and
``previous_cursor``. Links are relative (path and query): the API never builds a URL
from the request's Host header.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from mailward.core.pages import MAX_LIMIT, Page

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
