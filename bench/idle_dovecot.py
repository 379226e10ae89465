"""Dovecot for bench/idle.py: the configuration ``mailward integrate dovecot`` writes,
raised to hold every idle session, once with one ``imap`` process per connection and
once with ``imap_hibernate`` (idle connections handed to one holding process)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dovecot_login import start_dovecot  # bench/, on the path (idle.py)
from tests.support import free_port

from mailward.integrations.dovecot import write_dovecot_config
from mailward.integrations.options import DataPlaneOptions
from mailward.settings import Settings

LOGIN_PROCESSES = 4  # each proxies TLS for its share of the connections (two fds each)
HIBERNATE_SECONDS = 5


def limits(sessions: int, hibernate: bool) -> str:
    """What the generated file is given on top, so that Dovecot accepts ``sessions``
    connections (its defaults stop at 100 processes and 1,000 clients a service)."""
    room = sessions + 200
    per_login = room // LOGIN_PROCESSES + 200
    lines = [
        "# bench/idle.py: room for the idle sessions",
        f"default_process_limit = {room}",
        f"default_client_limit = {room}",
        f"service imap {{\n  process_limit = {room}\n}}",
        f"service imap-login {{\n  client_limit = {per_login}\n"
        f"  process_limit = {2 * LOGIN_PROCESSES}\n}}",
    ]
    if hibernate:
        lines += [
            f"imap_hibernate_timeout = {HIBERNATE_SECONDS}s",
            "service imap {\n  unix_listener imap-master {\n"
            "    user = $default_internal_user\n  }\n}",
            f"service imap-hibernate {{\n  client_limit = {per_login}\n"
            f"  process_limit = {LOGIN_PROCESSES}\n"
            "  unix_listener imap-hibernate {\n    mode = 0660\n"
            "    group = $default_internal_group\n  }\n}",
        ]
    return "\n".join(lines) + "\n"


@contextmanager
def running_dovecot(
    settings: Settings, directory: Path, sessions: int, hibernate: bool
) -> Iterator[tuple[int, int]]:
    """Dovecot on its own ports against the Mailward auth endpoint of ``settings``;
    yields its master's process id and implicit-TLS IMAP port. Stopped afterwards."""
    own = settings.model_copy(
        update={n: free_port() for n in ("imap_port", "imaps_port", "pop3_port", "pop3s_port")}
    )
    options = DataPlaneOptions(
        lmtp_port=free_port(),
        sasl_port=free_port(),
        mail_root=directory.parent / "mail",
        login_processes=LOGIN_PROCESSES,
        instance_name=f"mailward-idle-{directory.name}",
    )
    conf = write_dovecot_config(own, directory, options)[0]
    with conf.open("a") as handle:
        handle.write(limits(sessions, hibernate))
    try:
        yield start_dovecot(conf, own.imaps_port), own.imaps_port
    finally:
        stop(conf)


def stop(conf: Path) -> None:
    subprocess.run(["doveadm", "-c", str(conf), "stop"], capture_output=True, check=False)
    pid_file = conf.parent / "run" / "master.pid"
    deadline = time.monotonic() + 60
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def log_tail(directory: Path, lines: int = 15) -> str:
    log = directory / "dovecot.log"
    return "\n".join(log.read_text().splitlines()[-lines:]) if log.exists() else ""
