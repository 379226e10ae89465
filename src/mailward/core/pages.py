"""Keyset pagination: every list pages by a key, never by ``OFFSET``.

A page is read as ``WHERE key > :last_key ORDER BY key LIMIT n + 1`` (or the reverse
for the page before), so its cost does not grow with how far the reader has paged, and
rows added or removed meanwhile do not shift the pages. The cursor is the key of the
row at the page's edge with a direction, in URL-safe base64: opaque to clients, and
not a secret (it holds only what the page itself shows).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.errors import InvalidInput

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
Key = tuple[str | int, ...]


@dataclass(frozen=True)
class PageRequest:
    """Which page: the first one (no cursor), or the one a cursor points to."""

    cursor: str | None = None
    limit: int = DEFAULT_LIMIT

    @property
    def size(self) -> int:
        return max(1, min(self.limit, MAX_LIMIT))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    previous_cursor: str | None = None

    def map(self, convert: Callable[[T], R]) -> Page[R]:
        return Page([convert(i) for i in self.items], self.next_cursor, self.previous_cursor)


def id_key(row: Any) -> Key:
    """The key of a row ordered by its first entity's id alone."""
    return (row[0].id,)


def encode_cursor(key: Key, backwards: bool = False) -> str:
    raw = json.dumps({"b" if backwards else "a": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> tuple[Key, bool]:
    """The key and whether it points backwards. A cursor this list did not make is
    refused as bad input."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        (direction, key), *rest = value.items()
    except (binascii.Error, ValueError, AttributeError, UnicodeDecodeError):
        raise InvalidInput("cursor", "is not a cursor of this list") from None
    good = not rest and direction in ("a", "b") and isinstance(key, list) and len(key) == width
    if not good or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in key):
        raise InvalidInput("cursor", "is not a cursor of this list")
    return tuple(key), direction == "b"


def _after(columns: Sequence[Any], key: Key, descending: bool) -> Any:
    left = columns[0] if len(columns) == 1 else tuple_(*columns)
    right: Any = key[0] if len(columns) == 1 else tuple_(*key)
    return left < right if descending else left > right


def _ordered(columns: Sequence[Any], descending: bool) -> list[Any]:
    return [c.desc() if descending else c.asc() for c in columns]


async def keyset_page(
    session: AsyncSession,
    query: Select[*tuple[Any, ...]],
    columns: Sequence[Any],
    key_of: Callable[[Any], Key],
    request: PageRequest,
    descending: bool = False,
) -> Page[Any]:
    """One page of ``query``'s rows ordered by ``columns`` (mapped attributes, unique
    together); ``key_of``
    gives a row's values of those columns. Rows are what ``session.execute`` yields."""
    size = request.size
    backwards = False
    if request.cursor:
        key, backwards = decode_cursor(request.cursor, len(columns))
        query = query.where(_after(columns, key, descending != backwards))
    query = query.order_by(*_ordered(columns, descending != backwards)).limit(size + 1)
    rows = list(await session.execute(query))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    if not rows:
        return Page([])
    first, last = encode_cursor(key_of(rows[0]), True), encode_cursor(key_of(rows[-1]))
    if backwards:
        return Page(rows, last, first if more else None)
    return Page(rows, last if more else None, first if request.cursor else None)
