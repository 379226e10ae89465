"""Change notification for Maildirs, so that an idle IMAP session costs nothing.

pymap's Maildir backend answers IDLE by re-reading the whole mailbox every second, in
every session: 3,000 idle phones kept a core busy with empty mailboxes. Here one inotify
instance per process watches each mailbox that has an idle session (its folder, ``new/``
and ``cur/``), shared by all the sessions on it; a session re-reads its mailbox when the
folder changed (a delivery, a flag set by another client, an expunge, a new uid list)
or, as a safety net, after :data:`RESCAN_SECONDS`. Where inotify is missing or out of
watches, a mailbox falls back to pymap's one-second scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from inotify_simple import INotify
from inotify_simple import flags as inotify_flags
from pymap.backend.maildir.mailbox import MailboxData, MailboxSet, Maildir
from pymap.backend.maildir.uidlist import UidList
from pymap.concurrent import Event
from pymap.parsing.specials import ObjectId
from pymap.selected import SelectedMailbox

log = logging.getLogger(__name__)

RESCAN_SECONDS = 300.0
"""How long a watched idle session waits without a change before it re-reads anyway: a
safety net only (a lost event queue wakes every mailbox, and a session re-reads once as
its watch starts). At 30 s, 10,000 idle sessions re-read 333 mailboxes a second: a fifth
of a core, and revoke -> BYE p95 1.1 s (bench/idle.py)."""

POLL_SECONDS = 1.0
"""pymap's own interval, kept for a mailbox that could not be watched."""

CHANGES = (
    inotify_flags.CREATE
    | inotify_flags.DELETE
    | inotify_flags.MOVED_FROM
    | inotify_flags.MOVED_TO
    | inotify_flags.CLOSE_WRITE
    | inotify_flags.ATTRIB
)

QUIET_NAMES = frozenset({UidList.LOCK_FILE})
"""Files whose coming and going is no change of the mailbox: every session takes the uid
list's lock file each time it reads the mailbox, so counting it woke the session that
had just read, and every idle session re-read its mailbox without end once woken."""


@dataclass(eq=False)
class MailboxWatch:
    """One watched mailbox folder. ``generation`` counts the changes seen so far;
    ``changed`` is set once when the next change comes, then replaced."""

    path: str
    descriptors: list[int]
    sessions: int = 0
    generation: int = 0
    changed: Event = field(default_factory=Event.for_asyncio)

    def change(self) -> None:
        self.generation += 1
        changed, self.changed = self.changed, Event.for_asyncio()
        changed.set()


class MailboxWatcher:
    """The process's one inotify instance, and the mailboxes it watches."""

    def __init__(self) -> None:
        self._inotify: INotify | None = None
        self._by_path: dict[str, MailboxWatch] = {}
        self._by_descriptor: dict[int, MailboxWatch] = {}
        self.changes = 0  # mailbox changes seen so far (tests, diagnosis)

    def start(self) -> None:
        try:
            self._inotify = INotify()
        except OSError as exc:
            log.warning("no inotify (%s): idle IMAP sessions re-read every second", exc)
            return
        asyncio.get_running_loop().add_reader(self._inotify.fileno(), self._read)

    def close(self) -> None:
        if self._inotify is not None:
            asyncio.get_running_loop().remove_reader(self._inotify.fileno())
            self._inotify.close()
            self._inotify = None
        self._by_path.clear()
        self._by_descriptor.clear()

    @property
    def watched(self) -> int:
        return len(self._by_path)

    def acquire(self, path: str) -> MailboxWatch | None:
        """The shared watch of ``path``, or None when it cannot be watched."""
        watch = self._by_path.get(path) or self._add(path)
        if watch is not None:
            watch.sessions += 1
        return watch

    def release(self, watch: MailboxWatch) -> None:
        watch.sessions -= 1
        if watch.sessions > 0 or self._by_path.get(watch.path) is not watch:
            return
        del self._by_path[watch.path]
        for descriptor in watch.descriptors:
            self._by_descriptor.pop(descriptor, None)
            if self._inotify is not None:
                with contextlib.suppress(OSError):  # the folder is gone, its watch too
                    self._inotify.rm_watch(descriptor)

    def _add(self, path: str) -> MailboxWatch | None:
        if self._inotify is None:
            return None
        folders = [path, os.path.join(path, "new"), os.path.join(path, "cur")]
        try:
            descriptors = [self._inotify.add_watch(folder, CHANGES) for folder in folders]
        except OSError as exc:
            log.warning("cannot watch a mailbox (%s): it re-reads every second", exc)
            return None
        watch = MailboxWatch(path, descriptors)
        self._by_path[path] = watch
        for descriptor in descriptors:
            self._by_descriptor[descriptor] = watch
        return watch

    def _read(self) -> None:
        assert self._inotify is not None
        changed: set[int] = set()
        for event in self._inotify.read(timeout=0):
            if event.mask & inotify_flags.Q_OVERFLOW:  # events lost: any mailbox may have changed
                changed.update(id(watch) for watch in self._by_path.values())
                self._change_all()
                continue
            watch = self._by_descriptor.get(event.wd)
            if watch is None or id(watch) in changed or event.name in QUIET_NAMES:
                continue
            changed.add(id(watch))
            watch.change()
            self.changes += 1

    def _change_all(self) -> None:
        for watch in self._by_path.values():
            watch.change()
        self.changes += len(self._by_path)


class WatchedMailboxData(MailboxData):
    """A mailbox whose IDLE wait ends on a change instead of every second."""

    def __init__(
        self, mailbox_id: ObjectId, maildir: Maildir, path: str, watcher: MailboxWatcher
    ) -> None:
        super().__init__(mailbox_id, maildir, path)
        self._watcher = watcher
        self._watch: MailboxWatch | None = None
        self._watch_tried = False
        self._seen_generation = 0

    async def update_selected(
        self, selected: SelectedMailbox, *, wait_on: Event | None = None
    ) -> SelectedMailbox:
        if wait_on is not None:
            await self._wait_for_change(wait_on)
        if self._watch is not None:
            self._seen_generation = self._watch.generation
        return await super().update_selected(selected)

    async def _wait_for_change(self, done: Event) -> None:
        starting = not self._watch_tried
        watch = self._acquire_watch()
        if watch is None:
            await done.wait(timeout=POLL_SECONDS)
            return
        if starting:  # a change between the last read and the watch: read once more
            return
        if done.is_set() or watch.generation != self._seen_generation:
            return
        await done.or_event(watch.changed).wait(timeout=RESCAN_SECONDS)

    def _acquire_watch(self) -> MailboxWatch | None:
        if not self._watch_tried:
            self._watch_tried = True
            self._watch = self._watcher.acquire(self._path)
            if self._watch is not None:
                self._seen_generation = self._watch.generation
        return self._watch

    def release_watch(self) -> None:
        if self._watch is not None:
            self._watcher.release(self._watch)
            self._watch = None


class WatchedMailboxSet(MailboxSet):
    """pymap's mailbox set for one session, handing out :class:`WatchedMailboxData`;
    :meth:`close` lets go of the session's watches when it ends."""

    def __init__(self, maildir: Maildir, layout: Any, watcher: MailboxWatcher) -> None:
        super().__init__(maildir, layout)
        self._watcher = watcher
        self._watched: dict[str, WatchedMailboxData] = {}

    async def get_mailbox(self, name: str) -> MailboxData:
        if name == "INBOX":
            maildir = self._inbox_maildir
        else:
            try:
                maildir = self._layout.get_folder(name, self.delimiter)
            except FileNotFoundError as exc:
                raise KeyError(name) from exc
        mailbox = self._watched.get(name)
        if mailbox is None:
            path = self._layout.get_path(name, self.delimiter)
            async with UidList.with_init(path) as uid_list:
                mailbox_id = ObjectId(uid_list.global_uid)
            mailbox = WatchedMailboxData(mailbox_id, maildir, path, self._watcher)
            self._watched[name] = mailbox
        return await mailbox.reset()

    def close(self) -> None:
        for mailbox in self._watched.values():
            mailbox.release_watch()
        self._watched.clear()
