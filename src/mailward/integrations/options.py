"""What the generated configuration needs beyond Mailward's settings."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# single: one machine, Dovecot holds the mailboxes. proxy: stateless, every session and
# delivery goes to the address's mailbox backend. backend: the mailboxes, behind proxies.
DovecotRole = Literal["single", "proxy", "backend"]

DEFAULT_LMTP_PORT = 2424
DEFAULT_SASL_PORT = 2425


def _default_mail_user() -> str:
    """Dovecot never accesses mail as root: root's runs default to Debian's ``mail``."""
    name = getpass.getuser()
    return "mail" if name == "root" else name


def connect_host(bind: str) -> str:
    """Where a local client reaches a listener bound to ``bind`` (a wildcard bind is
    reached on the loopback address)."""
    return "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind


def _cores() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class DataPlaneOptions:
    """Ports of the links between Dovecot, Postfix and Mailward, who owns the mail, and
    the process counts measured to give the best login throughput (docs/BENCHMARKS.md).

    ``smtp_port``/``submission_port``/``socketmap_port``... come from the settings,
    because Mailward itself uses them; these are links between Dovecot and Postfix."""

    lmtp_port: int = DEFAULT_LMTP_PORT
    sasl_port: int = DEFAULT_SASL_PORT
    mail_user: str = field(default_factory=_default_mail_user)
    mail_root: Path | None = None
    login_processes: int = field(default_factory=_cores)
    mail_processes: int = 2
    # Parallel Lua passdb calls (auth_worker_max_count matches it). Measured with 16
    # clients on 2 cores: 2, 4, 8 and 16 warm workers give the same rate; more let slow
    # answers (Argon2id of chosen passwords, a slow database) overlap.
    auth_workers: int = 16
    auth_timeout_msecs: int = 5000
    max_userip_connections: int = 20
    instance_name: str = "mailward"
    role: DovecotRole = "single"
    backend: str | None = None  # role backend: its name in settings.mailbox_backends
    # role backend: the proxies' networks (login_trusted_networks: clients' IPs forwarded)
    proxy_networks: tuple[str, ...] = ()
