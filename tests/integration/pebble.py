"""Debian's Pebble (Let's Encrypt's ACME test server) on loopback ports, started by a
test: its HTTPS certificate from a CA made here (handed to Mailward as
``acme_ca_bundle``), HTTP-01 validation against ``http_port`` and names resolved by the
test's dnsmasq."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import free_port, skip_or_fail

PEBBLE = "/usr/bin/pebble"
VALIDITY_SECONDS = 60 * 24 * 3600  # 60 days: inside a 89-day renewal window, outside 30
START_SECONDS = 20


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_tls_pair(workdir: Path) -> tuple[Path, Path, Path]:
    """A CA and Pebble's certificate for 127.0.0.1 / localhost: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pebble test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = workdir / "pebble-ca.pem", workdir / "pebble-cert.pem", workdir / "pebble-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_key_pem(key))
    return paths


class Pebble:
    def __init__(
        self, workdir: Path, http_port: int, dns_resolver: str, authz_reuse: int = 0
    ) -> None:
        if not Path(PEBBLE).exists() and shutil.which("pebble") is None:
            skip_or_fail("pebble is not installed (Debian package pebble)")
        self.ca, cert, key = write_tls_pair(workdir)
        self.port = free_port()
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{free_port()}",
                "certificate": str(cert),
                "privateKey": str(key),
                "httpPort": http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
                "certificateValidityPeriod": VALIDITY_SECONDS,
            }
        }
        config_file = workdir / "pebble-config.json"
        config_file.write_text(json.dumps(config))
        env = {
            **os.environ,
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
            "PEBBLE_AUTHZREUSE": str(authz_reuse),  # % of orders given a valid authz again
        }
        self.log = workdir / "pebble.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [shutil.which("pebble") or PEBBLE, "-config", str(config_file),
                 "-dnsserver", dns_resolver],
                env=env, stdout=log, stderr=log,
            )  # fmt: skip
        self._wait_until_listening()

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def _wait_until_listening(self) -> None:
        context = ssl.create_default_context(cafile=str(self.ca))
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pebble stopped: {self.log.read_text()}")
            try:
                httpx.get(self.directory, verify=context, timeout=2).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"pebble did not start: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
