"""Views of database rows: a view's fields are read from the row's columns of the same
names, so a view lists each of them once (its dataclass) and not again where it is made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

V = TypeVar("V", bound="DataclassInstance")


def view_of(view: type[V], row: object, **given: Any) -> V:
    """``view`` with each field read from ``row``'s attribute of the same name, except
    those ``given`` (computed, renamed, or from another row)."""
    make: Callable[..., V] = view
    copied = {f.name: getattr(row, f.name) for f in fields(view) if f.name not in given}
    return make(**copied, **given)
