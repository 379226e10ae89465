"""``mailward integrate dovecot``: a complete Dovecot 2.3 configuration and the Lua passdb
that asks Mailward about every password.

Roles: ``single`` (one machine holds the mailboxes), ``proxy`` (stateless: each login
and each LMTP delivery goes to the address's mailbox backend, ``proxy=y``) and
``backend`` (the Maildirs and LMTP of one of ``settings.mailbox_backends``, reached by
the proxies; it asks Mailward about the forwarded password too, so a backend never
trusts a login on a proxy's word and its sessions carry the device like the proxy's)."""

from __future__ import annotations

import grp
import hashlib
import hmac
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from mailward.auth.secret import auth_http_secret
from mailward.integrations.options import DataPlaneOptions, connect_host
from mailward.integrations.render import render, write_text
from mailward.integrations.tls import certificate_paths
from mailward.settings import Settings, ip_networks

CONFIG_NAME = "dovecot.conf"
LUA_NAME = "mailward-passdb.lua"
DOVEADM_SECRET_NAME = "doveadm-secret.conf"
INTERNAL_USER = "dovecot"
LOGIN_USER = "dovenull"


@dataclass(frozen=True)
class DovecotFiles:
    """Where a generated Dovecot instance keeps its files."""

    output_dir: Path

    @property
    def config(self) -> Path:
        return self.output_dir / CONFIG_NAME

    @property
    def lua(self) -> Path:
        return self.output_dir / LUA_NAME

    @property
    def base_dir(self) -> Path:
        return self.output_dir / "run"

    @property
    def state_dir(self) -> Path:
        return self.output_dir / "state"

    @property
    def log(self) -> Path:
        return self.output_dir / "dovecot.log"

    @property
    def doveadm_secret(self) -> Path:
        return self.output_dir / DOVEADM_SECRET_NAME


def auth_endpoint_url(settings: Settings) -> str:
    host = connect_host(settings.auth_http_bind)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.auth_http_port}/auth/dovecot"


def mail_root(settings: Settings, options: DataPlaneOptions) -> Path:
    return (options.mail_root or settings.mail_dir).resolve()


def doveadm_password(settings: Settings) -> str:
    """The backends' shared doveadm password (``doveadm sync`` between them during a
    move): derived from the auth secret, so it needs no setting of its own."""
    secret = auth_http_secret(settings).encode()
    return hmac.new(secret, b"mailward doveadm password", hashlib.sha256).hexdigest()


def _role_values(settings: Settings, options: DataPlaneOptions) -> dict[str, object]:
    """A backend listens where ``settings.mailbox_backends[name]`` says the proxies and
    the other backends reach it."""
    values: dict[str, object] = {"role": options.role, "doveadm_port": 0}
    if options.role != "backend":
        return values
    if options.backend not in settings.mailbox_backends:
        known = ", ".join(settings.mailbox_backends) or "none configured"
        raise ValueError(f"--backend must name one of mailbox_backends ({known})")
    backend = settings.mailbox_backends[options.backend]
    return values | {
        "proxy_networks": " ".join(_proxy_networks(options)),
        "bind": backend.host,
        "imap_port": backend.imap_port,
        "pop3_port": backend.pop3_port,
        "lmtp_port": backend.lmtp_port,
        "doveadm_port": backend.doveadm_port,
    }


def _proxy_networks(options: DataPlaneOptions) -> list[str]:
    """login_trusted_networks of a backend: only the proxies, which forward the client's
    IP and log in in plaintext; anyone else in them could claim any client IP."""
    if not options.proxy_networks:
        raise ValueError("--role backend needs --proxy-network: the proxies' addresses")
    try:
        return ip_networks(options.proxy_networks)
    except ValueError as error:
        raise ValueError(f"--proxy-network: {error}") from None


def _template_values(
    settings: Settings, options: DataPlaneOptions, files: DovecotFiles
) -> dict[str, object]:
    cert, key = certificate_paths(settings, files.output_dir)
    user = pwd.getpwnam(options.mail_user)
    values: dict[str, object] = {
        "conf_path": files.config,
        "base_dir": files.base_dir,
        "state_dir": files.state_dir,
        "log_path": files.log,
        "lua_path": files.lua,
        "instance_name": options.instance_name,
        "bind": settings.bind,
        "hostname": settings.hostname,
        "login_user": LOGIN_USER,
        "internal_user": INTERNAL_USER,
        "mail_user": user.pw_name,
        "mail_group": grp.getgrgid(user.pw_gid).gr_name,
        "mail_uid": user.pw_uid,
        "mail_gid": user.pw_gid,
        "tls_cert": cert,
        "tls_key": key,
        "mail_root": mail_root(settings, options),
        "max_userip_connections": options.max_userip_connections,
        "imap_port": settings.imap_port,
        "imaps_port": settings.imaps_port,
        "pop3_port": settings.pop3_port,
        "pop3s_port": settings.pop3s_port,
        "lmtp_port": options.lmtp_port,
        "sasl_port": options.sasl_port,
        "login_processes": options.login_processes,
        "mail_processes": options.mail_processes,
        "auth_workers": options.auth_workers,
        "auth_workers_warm": options.auth_workers,
        "doveadm_secret": files.doveadm_secret,
    }
    return values | _role_values(settings, options)


def write_dovecot_config(
    settings: Settings, output_dir: Path, options: DataPlaneOptions | None = None
) -> list[Path]:
    """Write ``dovecot.conf`` (the entry file, first in the list), the Lua passdb (mode
    0600: it holds the shared secret) and, for a backend, its doveadm password (0600).
    Start with ``dovecot -c DIR/dovecot.conf``. A proxy gets no mail root."""
    options = options or DataPlaneOptions()
    files = DovecotFiles(output_dir.resolve())
    values = _template_values(settings, options, files)
    lua = render(
        "dovecot/mailward-passdb.lua.j2",
        auth_url=auth_endpoint_url(settings),
        secret=auth_http_secret(settings),
        mail_root=values["mail_root"],
        timeout_msecs=options.auth_timeout_msecs,
        proxy=options.role == "proxy",
    )
    for directory in (files.base_dir, files.state_dir):
        directory.mkdir(parents=True, exist_ok=True, mode=0o755)
    written = [write_text(files.config, render("dovecot/dovecot.conf.j2", **values))]
    written.append(_give_to_dovecot(write_text(files.lua, lua, mode=0o600)))
    if options.role != "proxy":
        _prepare_mail_root(Path(str(values["mail_root"])), options.mail_user)
    if options.role == "backend":
        secret = f"doveadm_password = {doveadm_password(settings)}\n"
        written.append(_give_to_dovecot(write_text(files.doveadm_secret, secret, mode=0o600)))
    return written


def _prepare_mail_root(root: Path, mail_user: str) -> None:
    root.mkdir(parents=True, exist_ok=True, mode=0o750)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(mail_user)
        os.chown(root, owner.pw_uid, owner.pw_gid)


def _give_to_dovecot(path: Path) -> Path:
    """Dovecot's auth process (user ``dovecot``) loads the script, and Dovecot's and
    ``doveadm -c``'s config readers the doveadm password: when written by root, the file
    goes to that user, still readable by nobody else."""
    if os.geteuid() == 0:
        internal = pwd.getpwnam(INTERNAL_USER)
        os.chown(path, internal.pw_uid, internal.pw_gid)
    return path
