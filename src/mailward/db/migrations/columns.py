"""The column and constraint shapes the revisions repeat, each written once.

Revisions that have shipped call these, so a change here would change the schema they
build: change none of them (tests/integration/test_migrations.py compares the result
with the models); add a new helper instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

from mailward.db.base import UTCDateTime

Column = sa.Column[Any]


def integer(name: str, nullable: bool = False) -> Column:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def string(name: str, length: int, nullable: bool = False) -> Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def binary(name: str, length: int, nullable: bool = False) -> Column:
    return sa.Column(name, sa.LargeBinary(length=length), nullable=nullable)


def when(name: str, nullable: bool = False) -> Column:
    """A point in time, stored as UTC."""
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def foreign_key(
    column: str, parent: str, ondelete: str = "CASCADE"
) -> Callable[[str], sa.ForeignKeyConstraint]:
    """``column`` refers to ``parent.id``; :func:`create_table` names the constraint as
    the models' naming convention does."""

    def of(table: str) -> sa.ForeignKeyConstraint:
        name = op.f(f"fk_{table}_{column}_{parent}")
        return sa.ForeignKeyConstraint([column], [f"{parent}.id"], name=name, ondelete=ondelete)

    return of


def unique(*columns: str) -> Callable[[str], sa.UniqueConstraint]:
    def of(table: str) -> sa.UniqueConstraint:
        return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))

    return of


def create_partial_index(
    name: str, table: str, columns: list[str], where: str, unique: bool = False
) -> None:
    """An index of the rows for which ``where`` holds, on SQLite and PostgreSQL alike."""
    condition = sa.text(where)
    op.create_index(
        name, table, columns, unique=unique, sqlite_where=condition, postgresql_where=condition
    )


def create_table(table: str, *items: SchemaItem | Callable[[str], SchemaItem]) -> None:
    """A table with an integer ``id`` primary key, then ``items``: columns, and the
    constraints :func:`foreign_key` and :func:`unique` describe."""
    made = [item if isinstance(item, SchemaItem) else item(table) for item in items]
    primary_key = sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))
    op.create_table(table, integer("id"), *made, primary_key)
