"""The Apple profile with the new password: downloadable once, within its window."""

from __future__ import annotations

from datetime import timedelta

from mailward.clock import FrozenClock
from mailward.web.assistant.downloads import DOWNLOAD_LIFETIME, OneTimeDownloads


def test_a_profile_downloads_once_within_its_window() -> None:
    downloads = OneTimeDownloads(FrozenClock())
    token = downloads.put("mail.mobileconfig", "application/x-apple-aspen-config", b"plist")
    assert len(token) >= 43
    item = downloads.take(token)
    assert item is not None and item.content == b"plist"
    assert downloads.take(token) is None


def test_a_profile_is_gone_once_its_window_has_passed() -> None:
    clock = FrozenClock()
    downloads = OneTimeDownloads(clock)
    token = downloads.put("mail.mobileconfig", "application/x-apple-aspen-config", b"plist")
    clock.advance(DOWNLOAD_LIFETIME + timedelta(seconds=1))
    assert downloads.take(token) is None
    assert downloads.take(token) is None


def test_expired_profiles_are_forgotten_and_never_kept_under_their_token() -> None:
    clock = FrozenClock()
    downloads = OneTimeDownloads(clock)
    old = downloads.put("a", "t", b"secret")
    clock.advance(DOWNLOAD_LIFETIME * 2)
    downloads.put("b", "t", b"other")
    assert len(downloads._items) == 1
    assert old.encode() not in b"".join(downloads._items)
