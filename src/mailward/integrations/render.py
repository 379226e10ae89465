"""Rendering configuration templates (``integrations/templates``) into files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


def lua_string(value: object) -> str:
    """A Lua string literal for any text: printable ASCII as is, everything else as a
    decimal byte escape, so no value can end the literal or the line."""
    out = []
    for byte in str(value).encode():
        char = chr(byte)
        if 0x20 <= byte < 0x7F and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _environment() -> Environment:
    env = Environment(  # noqa: S701 - configuration files, not HTML
        loader=PackageLoader("mailward.integrations", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["lua_string"] = lua_string
    return env


_ENV = _environment()


def render(template: str, **values: Any) -> str:
    return _ENV.get_template(template).render(**values)


def write_text(path: Path, text: str, mode: int = 0o644) -> Path:
    """Write ``text`` so that the file never exists with looser permissions than ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    tmp.replace(path)
    return path
