"""Files that survive a crash: written and fsynced before they are named, and their
directory fsynced after, so a reader sees the old file or the whole new one."""

from __future__ import annotations

import os
from pathlib import Path


def write_synced(path: Path, data: bytes, flags: int = os.O_TRUNC) -> None:
    """Write ``data`` to ``path`` (mode 0600) and fsync it. ``flags``: ``os.O_EXCL`` for
    a file that must be new."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(path: Path, data: bytes) -> None:
    """``path`` now holds ``data``, atomically and durably."""
    scratch = path.with_name(path.name + ".tmp")
    write_synced(scratch, data)
    os.replace(scratch, path)
    fsync_dir(path.parent)
