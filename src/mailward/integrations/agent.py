"""``mailward integrate agent``: a Mailward node for the production data plane without
the web manager: ``mailward serve`` with ``data_plane = "dovecot"`` and no web listener
(the internal auth endpoint, the socketmap tables, the device change feed and the Dovecot
kick hook). Run one beside each Dovecot/Postfix host that has no web manager."""

from __future__ import annotations

from pathlib import Path

from mailward.serve import run
from mailward.settings import Settings


def agent_settings(settings: Settings, dovecot_config: Path | None) -> Settings:
    update: dict[str, object] = {"data_plane": "dovecot"}
    if dovecot_config is not None:
        update["dovecot_config"] = dovecot_config
    return settings.model_copy(update=update)


def run_agent(settings: Settings, dovecot_config: Path | None) -> int:
    return run(agent_settings(settings, dovecot_config), with_web=False)
