"""``mailward integrate postfix``: a Postfix 3.7 instance in its own configuration
directory: inbound SMTP for local addresses, submission (STARTTLS and implicit TLS) with
SMTP AUTH through Dovecot, delivery to Dovecot by LMTP, lookups answered by Mailward."""

from __future__ import annotations

import ipaddress
import os
import pwd
from pathlib import Path

from mailward.integrations.options import DataPlaneOptions, connect_host
from mailward.integrations.render import render, write_text
from mailward.integrations.tls import certificate_paths
from mailward.settings import Settings


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _relayhost(settings: Settings) -> str:
    if not settings.smarthost:
        return ""
    return f"[{settings.smarthost}]:{settings.smarthost_port}"


def _loopback_network(bind: str) -> tuple[str, str]:
    """(inet_protocols, mynetworks) for the listening address."""
    if ipaddress.ip_address(bind).version == 6:
        return "ipv6", f"[{bind}]/128"
    return "ipv4", f"{bind}/32"


def _make_directories(output_dir: Path) -> None:
    """The queue belongs to root (Postfix makes its subdirectories on start), the data
    directory to the ``postfix`` user."""
    (output_dir / "queue").mkdir(exist_ok=True, mode=0o755)
    data = output_dir / "data"
    data.mkdir(exist_ok=True, mode=0o700)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postfix")
        os.chown(data, owner.pw_uid, owner.pw_gid)


def write_postfix_config(
    settings: Settings, output_dir: Path, options: DataPlaneOptions | None = None
) -> list[Path]:
    """Write ``main.cf`` and ``master.cf`` into ``output_dir``; the queue and data
    directories go beside them. Start with ``postfix -c DIR start``."""
    options = options or DataPlaneOptions()
    output_dir = output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    cert, key = certificate_paths(settings, output_dir)
    protocols, networks = _loopback_network(settings.bind)
    values = {
        "config_dir": output_dir,
        "queue_dir": output_dir / "queue",
        "data_dir": output_dir / "data",
        "log_path": output_dir / "postfix.log",
        "hostname": settings.hostname,
        "bind": settings.bind,
        "inet_protocols": protocols,
        "mynetworks": networks,
        "max_message_bytes": settings.max_message_bytes,
        "socketmap": _host_port(connect_host(settings.socketmap_bind), settings.socketmap_port),
        "lmtp": _host_port(settings.bind, options.lmtp_port),
        "sasl": _host_port(settings.bind, options.sasl_port),
        "relayhost": _relayhost(settings),
        "tls_cert": cert,
        "tls_key": key,
        "smtp_port": settings.smtp_port,
        "submission_port": settings.submission_port,
        "submissions_port": settings.submissions_port,
        "milter": settings.rspamd_milter if settings.rspamd_enabled else "",
    }
    _make_directories(output_dir)
    return [
        write_text(output_dir / "main.cf", render("postfix/main.cf.j2", **values)),
        write_text(output_dir / "master.cf", render("postfix/master.cf.j2", **values)),
    ]
