"""TLS for the mail listeners: a configured certificate, or a self-signed one made on
first start; reloaded in place on SIGHUP so listeners keep their context object."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

SELF_SIGNED_DAYS = 825


@dataclass(frozen=True)
class CertificatePaths:
    cert: Path
    key: Path


def acme_paths(tls_dir: Path) -> CertificatePaths:
    """Where ``mailward certs issue`` / ``renew`` write the certificate chain and key."""
    return CertificatePaths(tls_dir / "acme-cert.pem", tls_dir / "acme-key.pem")


def certificate_paths(
    tls_dir: Path, cert_file: Path | None, key_file: Path | None
) -> CertificatePaths:
    """Configured paths take precedence over a certificate from ACME, which takes
    precedence over the self-signed pair in ``tls_dir``."""
    if cert_file is not None:
        return CertificatePaths(cert_file, key_file or cert_file)
    acme = acme_paths(tls_dir)
    if acme.cert.exists() and acme.key.exists():
        return acme
    return CertificatePaths(tls_dir / "selfsigned-cert.pem", tls_dir / "selfsigned-key.pem")


def _subject_names(hostname: str) -> list[x509.GeneralName]:
    try:
        names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(hostname))]
    except ValueError:
        names = [x509.DNSName(hostname)]
    if hostname != "localhost":
        names.append(x509.DNSName("localhost"))
    return names


def write_self_signed(paths: CertificatePaths, hostname: str) -> None:
    """An ECDSA P-256 certificate for ``hostname``; the key file is mode 0600."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(_subject_names(hostname)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths.key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(paths.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_pem)
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("created a self-signed certificate for %s in %s", hostname, paths.cert.parent)


class ServerTls:
    """One server-side SSL context shared by every listener. :meth:`reload` loads the
    files again into the same context: new handshakes get the new certificate."""

    def __init__(
        self, paths: CertificatePaths, choose: Callable[[], CertificatePaths] | None = None
    ) -> None:
        self.paths = paths
        self._choose = choose  # reload picks the files again (a new ACME certificate)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.reload()

    @classmethod
    def from_settings(
        cls, tls_dir: Path, hostname: str, cert_file: Path | None, key_file: Path | None
    ) -> ServerTls:
        paths = certificate_paths(tls_dir, cert_file, key_file)
        if cert_file is None and not (paths.cert.exists() and paths.key.exists()):
            write_self_signed(paths, hostname)
        return cls(paths, lambda: certificate_paths(tls_dir, cert_file, key_file))

    def reload(self) -> None:
        """Raises ``OSError``/``ssl.SSLError`` when the files are unusable; the context
        then keeps the certificate it had."""
        if self._choose is not None:
            self.paths = self._choose()
        scratch = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        scratch.load_cert_chain(str(self.paths.cert), str(self.paths.key))
        self.context.load_cert_chain(str(self.paths.cert), str(self.paths.key))
