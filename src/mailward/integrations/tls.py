"""The certificate Dovecot and Postfix present: the configured one, or a self-signed
pair made once in the output directory (fine for tests and first steps, not for users'
mail clients)."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailward.integrations.render import write_text
from mailward.settings import Settings


def certificate_paths(settings: Settings, output_dir: Path) -> tuple[Path, Path]:
    """(certificate, key) paths; makes a self-signed pair when none is configured."""
    if settings.tls_cert_file and settings.tls_key_file:
        return settings.tls_cert_file.resolve(), settings.tls_key_file.resolve()
    cert = output_dir / "tls" / "cert.pem"
    key = output_dir / "tls" / "key.pem"
    if not (cert.exists() and key.exists()):
        make_self_signed(settings.hostname, cert, key)
    return cert.resolve(), key.resolve()


def make_self_signed(hostname: str, cert_path: Path, key_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_text(key_path, key_pem.decode(), mode=0o600)
    write_text(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode())
