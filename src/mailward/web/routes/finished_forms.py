"""Forms whose answer showed a new password, remembered so that sending one again (the
browser's reload of that answer) leads to the device list instead of a second try.

Only a random id the form carried is kept (hashed), for an hour, in this process."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable


def new_submission() -> str:
    """The id a password form carries: random, one per form shown."""
    return secrets.token_urlsafe(16)


class FinishedForms:
    """A bounded, expiring set of submission ids."""

    def __init__(
        self,
        limit: int = 10_000,
        keep_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ids: OrderedDict[bytes, float] = OrderedDict()
        self._limit = limit
        self._keep = keep_seconds
        self._clock = clock

    @staticmethod
    def _key(submission: str) -> bytes:
        return hashlib.sha256(submission.encode("utf-8", "replace")).digest()

    def add(self, submission: str) -> None:
        if not submission:
            return
        self._forget_old()
        self._ids[self._key(submission)] = self._clock() + self._keep
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)

    def seen(self, submission: str) -> bool:
        if not submission:
            return False
        self._forget_old()
        return self._key(submission) in self._ids

    def _forget_old(self) -> None:
        now = self._clock()
        while self._ids and next(iter(self._ids.values())) <= now:
            self._ids.popitem(last=False)
