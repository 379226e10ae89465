"""Every audit action reads in words in the manager, not as its code."""

from __future__ import annotations

from mailward.core.audit.events import AuditTag
from mailward.web.formatting import ACTION_NAMES, action_name


def test_every_audit_action_has_a_name_in_the_manager() -> None:
    missing = [tag.value for tag in AuditTag if tag.value not in ACTION_NAMES]
    assert missing == []


def test_the_names_are_sentences_not_codes() -> None:
    for tag in AuditTag:
        name = action_name(tag.value)
        assert name != tag.value and "_" not in name and name[0].isupper()
