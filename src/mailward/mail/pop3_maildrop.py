"""A POP3 view of an address's Maildir INBOX: a numbered snapshot taken at login,
deletions marked during the session and carried out only at QUIT (RFC 1939 UPDATE)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class DropMessage:
    path: Path
    size: int
    uid: str
    deleted: bool = False


def _uid_of(name: str) -> str:
    """A Maildir file name without its ``:2,FLAGS`` suffix: stable across flag changes,
    made only of printable characters (RFC 1939 allows 0x21-0x7E, up to 70)."""
    base = name.split(":", 1)[0]
    return "".join(c for c in base if "!" <= c <= "~")[:70]


def _crlf_size(path: Path) -> int:
    """The size a client sees: every line ending counted as CRLF."""
    data = path.read_bytes()
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


class Maildrop:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.messages: list[DropMessage] = []

    def load(self) -> None:
        found: list[tuple[float, str, Path]] = []
        for sub in ("cur", "new"):
            folder = self.maildir / sub
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if entry.is_file() and not entry.name.startswith("."):
                    found.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
        found.sort()
        self.messages = [DropMessage(p, _crlf_size(p), _uid_of(n)) for _, n, p in found]

    def get(self, number: int) -> DropMessage | None:
        """Message ``number`` (1-based), or None when out of range or deleted."""
        if 1 <= number <= len(self.messages):
            message = self.messages[number - 1]
            return None if message.deleted else message
        return None

    def live(self) -> list[tuple[int, DropMessage]]:
        return [(n, m) for n, m in enumerate(self.messages, 1) if not m.deleted]

    def stat(self) -> tuple[int, int]:
        live = self.live()
        return len(live), sum(m.size for _, m in live)

    def reset(self) -> None:
        for message in self.messages:
            message.deleted = False

    def expunge(self) -> int:
        """Remove the messages marked deleted; a file already gone is not an error."""
        removed = 0
        for message in self.messages:
            if message.deleted:
                message.path.unlink(missing_ok=True)
                removed += 1
        return removed


def dot_stuffed(content: bytes, max_body_lines: int | None = None) -> bytes:
    """The message as a POP3 multi-line response body: CRLF endings, lines starting with
    '.' doubled, ended by ``.\\r\\n``. With ``max_body_lines`` (TOP), the headers and
    that many body lines only."""
    lines = content.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if max_body_lines is not None:
        try:
            blank = lines.index(b"")
        except ValueError:
            blank = len(lines)
        lines = lines[: blank + 1 + max_body_lines]
    out = [b"." + line if line.startswith(b".") else line for line in lines]
    return b"\r\n".join(out) + (b"\r\n" if out else b"") + b".\r\n"
