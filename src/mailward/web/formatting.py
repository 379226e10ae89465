"""Jinja filters: how times, roles and statuses read on a page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

ROLE_NAMES = {
    "legal_representative": "Legal representative",
    "administrator": "Administrator",
    "user": "User",
}


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def role_name(value: str) -> str:
    return ROLE_NAMES.get(value, value)


FILTERS: dict[str, Callable[..., Any]] = {"when": when, "day": day, "role_name": role_name}
