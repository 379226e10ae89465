"""``mailward integrate agent``: a Mailward node for the production data plane without
the web manager: ``mailward serve`` with ``data_plane = "dovecot"`` and no web listener
(the internal auth endpoint, the socketmap tables, the device change feed and the Dovecot
kick hook). Run one beside each Dovecot/Postfix host that has no web manager.

The command itself is mounted by :mod:`mailward.cli.main`, which runs the node
(:func:`mailward.serve.run`); this module only says how an agent's settings differ, so
that nothing in ``integrations`` imports the process that serves it."""

from __future__ import annotations

from pathlib import Path

from mailward.settings import Settings


def agent_settings(settings: Settings, dovecot_config: Path | None) -> Settings:
    update: dict[str, object] = {"data_plane": "dovecot"}
    if dovecot_config is not None:
        update["dovecot_config"] = dovecot_config
    return settings.model_copy(update=update)
