"""Which files of the data directory go into a backup, read so that a running mail
server can go on delivering, flagging and expunging meanwhile.

Maildir messages never change once written, but they move: ``new/`` to ``cur/`` when
seen, and to a new name in ``cur/`` when their flags change. A directory's ``new/`` is
listed before its ``cur/``, and a message gone from where it was listed is looked up
again by its unique name, so a message that moves is not lost. ``tmp/`` (deliveries
not yet complete) is left out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

SKIPPED_DIRS = {"tmp"}
SKIPPED_SUFFIXES = (".tmp", ".partial", ".restoring")


@dataclass(frozen=True)
class DataFile:
    relative: str  # POSIX path inside the data directory
    path: Path


def _ordered(dirnames: list[str]) -> list[str]:
    """``new`` before ``cur`` (a seen message moves from one to the other), ``tmp`` out."""
    kept = [d for d in sorted(dirnames) if d not in SKIPPED_DIRS]
    if "new" in kept and "cur" in kept:
        kept.remove("new")
        kept.insert(kept.index("cur"), "new")
    return kept


def walk_data_dir(root: Path, keep: Callable[[str], bool]) -> Iterator[DataFile]:
    """Every regular file under ``root`` whose relative path ``keep`` accepts (a
    directory refused by ``keep`` is not entered)."""
    for current, dirnames, filenames in os.walk(root):
        here = Path(current)
        relative_dir = here.relative_to(root).as_posix()
        prefix = "" if relative_dir == "." else relative_dir + "/"
        dirnames[:] = [d for d in _ordered(dirnames) if keep(prefix + d + "/")]
        for name in sorted(filenames):
            if name.endswith(SKIPPED_SUFFIXES) or not keep(prefix + name):
                continue
            yield DataFile(prefix + name, here / name)


def moved_message(path: Path) -> Path | None:
    """Where a Maildir message listed at ``path`` is now, if it moved (to ``cur/``, or
    to a new flags suffix); None when it is gone (expunged)."""
    if path.parent.name not in ("new", "cur"):
        return None
    unique = path.name.split(":", 1)[0]
    cur = path.parent.parent / "cur"
    try:
        with os.scandir(cur) as entries:
            for candidate in entries:
                if candidate.name.split(":", 1)[0] == unique and candidate.is_file():
                    return Path(candidate.path)
    except OSError:
        return None
    return None
