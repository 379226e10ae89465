"""The certificate Dovecot and Postfix present: the configured one, the one from ACME
(``mailward certs issue``; ``serve`` renews it and runs ``doveadm reload`` and
``postfix reload``), or a self-signed pair made once in the output directory (fine for
tests and first steps, not for users' mail clients)."""

from __future__ import annotations

from pathlib import Path

from mailward.mail.tls import CertificatePaths, acme_paths, write_self_signed
from mailward.settings import Settings


def certificate_paths(settings: Settings, output_dir: Path) -> tuple[Path, Path]:
    """(certificate, key) paths; makes a self-signed pair when none is configured."""
    if settings.tls_cert_file and settings.tls_key_file:
        return settings.tls_cert_file.resolve(), settings.tls_key_file.resolve()
    acme = acme_paths(settings.tls_dir)
    if acme.cert.exists() and acme.key.exists():
        return acme.cert.resolve(), acme.key.resolve()
    cert = output_dir / "tls" / "cert.pem"
    key = output_dir / "tls" / "key.pem"
    if not (cert.exists() and key.exists()):
        make_self_signed(settings.hostname, cert, key)
    return cert.resolve(), key.resolve()


def make_self_signed(hostname: str, cert_path: Path, key_path: Path) -> None:
    """The embedded servers' self-signed certificate maker, at these paths."""
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    write_self_signed(CertificatePaths(cert_path, key_path), hostname)
