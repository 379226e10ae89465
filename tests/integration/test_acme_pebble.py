"""Certificates from ACME, end to end against Debian's Pebble: ``mailward certs issue``
while serve runs, IMAPS and HTTPS serving the new certificate (new serial), ``renew``, a failed
challenge leaving the certificate in place, and serve renewing by itself."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from mailward.mail.tls import acme_paths
from tests.integration.mail_world import client_tls
from tests.integration.pebble import Pebble
from tests.integration.serve_process import ServeProcess, serve_process
from tests.security.dns_server import DnsServer
from tests.support import free_port

pytestmark = pytest.mark.slow

HOSTNAME = "mail.example.test"
NAMES = [HOSTNAME, *(f"{p}.example.test" for p in ("autoconfig", "autodiscover", "mta-sts"))]
WAIT_SECONDS = 30.0


@contextmanager
def acme_node(workdir: Path, renew_days: int) -> Iterator[tuple[ServeProcess, DnsServer]]:
    """serve for mail.example.test (Mail Service example.test verified), dnsmasq
    resolving its names to 127.0.0.1, Pebble validating on serve's web listener."""
    dns = DnsServer(workdir)
    dns.publish({}, hosts=dict.fromkeys(NAMES, "127.0.0.1"))
    http_port = free_port()  # Pebble validates HTTP-01 on serve's web listener
    pebble: Pebble | None = None
    try:
        # Pebble reuses every valid authorization, as CAs may (RFC 8555 7.1.3): a renewal
        # must not answer those again.
        pebble = Pebble(workdir, http_port, dns.resolver, authz_reuse=100)
        with serve_process(
            workdir / "data",
            hostname=HOSTNAME,
            http_port=str(http_port),
            https_port=str(free_port()),
            acme_directory_url=pebble.directory,
            acme_ca_bundle=str(pebble.ca),
            acme_renew_days=str(renew_days),
            acme_check_interval_seconds="0.5",
        ) as node:
            yield node, dns
    finally:
        if pebble is not None:
            pebble.stop()
        dns.stop()


def certs(node: ServeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailward.cli", "certs", *args],
        env=node.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def file_serial(node: ServeProcess) -> int:
    cert = acme_paths(Path(node.env["MAILWARD_DATA_DIR"]) / "tls").cert
    return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number


def served_serial(node: ServeProcess, listener: str) -> int:
    """The serial of the certificate a client sees on ``listener`` (imaps, https)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", node.port(listener)), timeout=5)
    with context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def served_serial_becomes(node: ServeProcess, serial: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    for listener in ("imaps", "https"):
        while served_serial(node, listener) != serial:
            assert time.monotonic() < deadline, f"{listener} never served serial {serial:x}"
            time.sleep(0.2)


def test_issue_renew_and_a_failed_challenge_against_pebble(tmp_path: Path) -> None:
    with acme_node(tmp_path, renew_days=30) as (node, dns):
        before = served_serial(node, "imaps")  # the self-signed certificate
        assert served_serial(node, "https") == before
        issued = certs(node, "issue")
        assert issued.returncode == 0, issued.stderr
        assert "certificate for mail.example.test, autoconfig.example.test" in issued.stdout
        first = file_serial(node)
        assert first != before
        served_serial_becomes(node, first)
        manager = f"https://127.0.0.1:{node.port('https')}/favicon.ico"
        assert httpx.get(manager, verify=client_tls(), timeout=5).status_code == 200
        cert = acme_paths(Path(node.env["MAILWARD_DATA_DIR"]) / "tls").cert
        names = x509.load_pem_x509_certificate(cert.read_bytes()).extensions
        sans = names.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(NAMES)

        assert "not due" in certs(node, "renew").stdout  # 60 days left, renewal at 30
        renewed = certs(node, "renew", "--force")
        assert renewed.returncode == 0, renewed.stderr
        second = file_serial(node)
        assert second != first
        served_serial_becomes(node, second)

        # A new ACME account has no authorization to reuse: its challenge must be answered.
        (Path(node.env["MAILWARD_DATA_DIR"]) / "keys" / "acme-account-key.pem").unlink()
        dns.publish({}, hosts=dict.fromkeys(NAMES, "127.0.0.2"))  # nothing listens there
        failed = certs(node, "renew", "--force")
        assert failed.returncode != 0
        assert failed.stderr.count("\n") == 1, failed.stderr
        assert "no new certificate, the current one stays: challenge failed" in failed.stderr
        assert file_serial(node) == second
        assert served_serial(node, "imaps") == served_serial(node, "https") == second
        challenges = Path(node.env["MAILWARD_DATA_DIR"]) / "tls" / "acme-challenges"
        assert list(challenges.iterdir()) == []


def test_serve_renews_by_itself_when_the_days_left_are_few(tmp_path: Path) -> None:
    with acme_node(tmp_path, renew_days=89) as (node, _dns):
        issued = certs(node, "issue")
        assert issued.returncode == 0, issued.stderr
        first = file_serial(node)
        deadline = time.monotonic() + WAIT_SECONDS
        while file_serial(node) == first:  # 60 days left < 89: serve renews
            assert time.monotonic() < deadline, "serve did not renew"
            time.sleep(0.2)
        served_serial_becomes(node, file_serial(node))
