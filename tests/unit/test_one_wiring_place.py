"""Every subscription to device changes is made in bootstrap (``Services``), once per
node: a module that subscribed by itself could do it once per app or per start."""

from __future__ import annotations

import ast
from pathlib import Path

import mailward

SRC = Path(mailward.__file__).parent
SUBSCRIBING = {"subscribe", "subscribe_revocation"}


def subscriptions(path: Path) -> list[int]:
    """The lines of ``path`` that call ``….subscribe(…)`` or ``….subscribe_revocation(…)``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SUBSCRIBING
    ]


def test_device_changes_are_subscribed_in_bootstrap_only() -> None:
    found = {
        str(path.relative_to(SRC)): lines
        for path in sorted(SRC.rglob("*.py"))
        if (lines := subscriptions(path))
    }
    assert set(found) == {"bootstrap.py"}, found
