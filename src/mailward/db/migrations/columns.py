"""The column and constraint shapes the revisions repeat, each written once.

Revisions that have shipped call these, so a change here would change the schema they
build: change none of them (tests/integration/test_migrations.py compares the result
with the models); add a new helper instead.
"""

from __future__ import annotations

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
    table: str, column: str, parent: str, ondelete: str = "CASCADE"
) -> sa.ForeignKeyConstraint:
    """``table.column`` refers to ``parent.id``; named as the models' naming convention
    names it."""
    name = op.f(f"fk_{table}_{column}_{parent}")
    return sa.ForeignKeyConstraint([column], [f"{parent}.id"], name=name, ondelete=ondelete)


def unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def create_partial_index(
    name: str, table: str, columns: list[str], where: str, unique: bool = False
) -> None:
    """An index of the rows for which ``where`` holds, on SQLite and PostgreSQL alike."""
    condition = sa.text(where)
    op.create_index(
        name, table, columns, unique=unique, sqlite_where=condition, postgresql_where=condition
    )


def create_table(table: str, *items: SchemaItem) -> None:
    """A table with an integer ``id`` primary key, then ``items`` (columns, constraints)."""
    primary_key = sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))
    op.create_table(table, integer("id"), *items, primary_key)
