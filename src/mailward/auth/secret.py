"""The shared secret of the internal HTTP auth endpoint.

Production requires ``MAILWARD_AUTH_HTTP_SECRET`` (settings refuse to start without
it). In development, when unset, one is generated into ``<data dir>/auth-http-secret``
(mode 0600) on first use; the Dovecot / nginx configuration writers read it from there
with :func:`auth_http_secret`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from mailward.settings import Settings

SECRET_FILE = "auth-http-secret"


def secret_file(settings: Settings) -> Path:
    return settings.data_dir / SECRET_FILE


def auth_http_secret(settings: Settings) -> str:
    """The configured secret, or the development one (created when missing)."""
    if settings.auth_http_secret is not None:
        return settings.auth_http_secret.get_secret_value()
    if settings.mode == "production":
        raise RuntimeError("MAILWARD_AUTH_HTTP_SECRET must be set in production")
    path = secret_file(settings)
    if not path.exists():
        _write_new_secret(path)
    return path.read_text().strip()


def _write_new_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    try:
        os.link(tmp, path)  # atomic and never overwrites a secret another process made
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
