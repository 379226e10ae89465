"""``mailward integrate systemd``: units for ``mailward serve`` (``Type=notify``,
watchdog, graceful stop) and, for the Dovecot plane, Dovecot and Postfix with the
configuration ``integrate dovecot`` / ``integrate postfix`` wrote, and rspamd where it is
used. Every unit is hardened (read-only system, private /tmp, no new privileges) and may
write only where it must: Mailward its data directory. Certificate renewal runs inside
``serve``, so there is no timer."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from mailward.integrations.render import render, write_text
from mailward.settings import Settings

WATCHDOG_SECONDS = 30
PRIVILEGED_PORTS = 1024


@dataclass(frozen=True)
class UnitOptions:
    """Who runs Mailward, where its files are, and what runs beside it."""

    user: str = "mailward"
    group: str = "mailward"
    mailward: Path | None = None  # the `mailward` executable; this one when None
    config_file: Path | None = None  # MAILWARD_CONFIG
    dovecot_config: Path | None = None  # dovecot.conf written by integrate dovecot
    postfix_dir: Path | None = None  # directory written by integrate postfix
    mail_root: Path | None = None  # Dovecot's Maildirs
    rspamd_config: Path | None = None  # rspamd.conf, when rspamd checks mail


def mailward_executable() -> Path:
    found = shutil.which("mailward")
    return Path(found) if found else Path(sys.executable).with_name("mailward")


def _tool(name: str) -> str:
    return (
        shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin") or f"/usr/sbin/{name}"
    )


def _low_ports(settings: Settings) -> bool:
    ports = [settings.http_port, settings.auth_http_port]
    if settings.data_plane == "embedded":
        ports += [settings.imap_port, settings.imaps_port, settings.pop3_port]
        ports += [settings.pop3s_port, settings.submission_port, settings.submissions_port]
        ports += [settings.smtp_port]
    return any(0 < port < PRIVILEGED_PORTS for port in ports)


def _mailward_unit(settings: Settings, options: UnitOptions) -> str:
    data_dir = settings.data_dir.resolve()
    environment = [("MAILWARD_DATA_DIR", str(data_dir))]
    if options.config_file is not None:
        environment.append(("MAILWARD_CONFIG", str(options.config_file.resolve())))
    read_write = [str(data_dir)]
    if settings.key_file.resolve().parent != data_dir and settings.server_key_file:
        read_write.append(str(settings.key_file.resolve().parent))  # keys rotate, ACME account
    return render(
        "systemd/mailward.service.j2",
        user=options.user,
        group=options.group,
        environment=environment,
        mailward=options.mailward or mailward_executable(),
        watchdog_seconds=WATCHDOG_SECONDS,
        low_ports=_low_ports(settings),
        read_write=read_write,
    )


def _units(settings: Settings, options: UnitOptions) -> dict[str, str]:
    units = {"mailward.service": _mailward_unit(settings, options)}
    if options.dovecot_config is not None:
        conf = options.dovecot_config.resolve()
        units["mailward-dovecot.service"] = render(
            "systemd/mailward-dovecot.service.j2",
            dovecot=_tool("dovecot"),
            doveadm=_tool("doveadm"),
            dovecot_config=conf,
            dovecot_dir=conf.parent,
            mail_root=(options.mail_root or settings.mail_dir).resolve(),
        )
    if options.postfix_dir is not None:
        units["mailward-postfix.service"] = render(
            "systemd/mailward-postfix.service.j2",
            postfix=_tool("postfix"),
            postfix_dir=options.postfix_dir.resolve(),
        )
    if options.rspamd_config is not None:
        conf = options.rspamd_config.resolve()
        units["mailward-rspamd.service"] = render(
            "systemd/mailward-rspamd.service.j2",
            rspamd=_tool("rspamd"),
            rspamd_config=conf,
            rspamd_dir=conf.parent,
        )
    return units


def write_systemd_units(settings: Settings, output_dir: Path, options: UnitOptions) -> list[Path]:
    """Write the units into ``output_dir`` (``/etc/systemd/system`` to install them);
    returns their paths, ``mailward.service`` first."""
    return [write_text(output_dir / name, text) for name, text in _units(settings, options).items()]
