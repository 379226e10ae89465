"""Mail storage: one Maildir per address, named by the address id (stable across
renames, and safe whatever characters the local part holds).

Delivery writes into ``tmp/``, fsyncs the file, renames it into ``new/`` and fsyncs the
directory: a message is either wholly visible or not at all, and once the caller gets
control back it survives a crash.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import socket
import time
from collections.abc import Iterable
from pathlib import Path

from mailward.files import fsync_dir, write_synced

_counter = itertools.count()


class MailStore:
    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    def inbox_path(self, address_id: int) -> Path:
        return self.mail_dir / str(address_id)

    def ensure_inbox(self, address_id: int) -> Path:
        path = self.inbox_path(address_id)
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def deliver_sync(self, address_ids: Iterable[int], content: bytes) -> None:
        """Deliver one message into each inbox; raises ``OSError`` if any fails."""
        for address_id in address_ids:
            write_message(self.ensure_inbox(address_id), content)

    async def deliver(self, address_ids: Iterable[int], content: bytes) -> None:
        """Off the event loop: fsync can take a while."""
        await asyncio.to_thread(self.deliver_sync, list(address_ids), content)


def unique_name() -> str:
    now = time.time()
    seconds, micros = int(now), int((now % 1) * 1_000_000)
    host = socket.gethostname().replace("/", "_").replace(":", "_")
    tag = f"M{micros}P{os.getpid()}Q{next(_counter)}R{secrets.token_hex(4)}"
    return f"{seconds}.{tag}.{host}"


def write_message(maildir: Path, content: bytes) -> Path:
    name = unique_name()
    tmp_path = maildir / "tmp" / name
    final_path = maildir / "new" / name
    try:
        write_synced(tmp_path, content, os.O_EXCL)
        os.rename(tmp_path, final_path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    fsync_dir(final_path.parent)
    return final_path
