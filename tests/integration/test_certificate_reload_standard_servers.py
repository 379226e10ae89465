"""With Dovecot and Postfix in front, a renewed certificate reaches them through
``doveadm reload`` and ``postfix reload`` (what ``serve`` runs after a renewal): the
configuration ``mailward integrate`` writes points at the ACME files, and after the
reload clients see the new serial on Dovecot's IMAPS and Postfix's submissions port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from cryptography import x509

from mailward.integrations.dovecot import write_dovecot_config
from mailward.integrations.postfix import write_postfix_config
from mailward.mail.tls import acme_paths, write_self_signed
from mailward.ops.renewal import reload_standard_servers
from tests.integration.dataplane import (
    DataPlane,
    client_tls,
    dovecot_running,
    postfix_running,
    prepared_plane,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def plane() -> Iterator[DataPlane]:
    with prepared_plane() as plane:
        write_self_signed(acme_paths(plane.settings.tls_dir), "mail.example.test")
        write_dovecot_config(plane.settings, plane.dovecot_conf.parent, plane.options)
        write_postfix_config(plane.settings, plane.postfix_dir, plane.options)
        with dovecot_running(plane, auth_chain=False), postfix_running(plane):
            yield plane


def served_serial(port: int) -> int:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with client_tls().wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def file_serial(plane: DataPlane) -> int:
    cert = acme_paths(plane.settings.tls_dir).cert
    return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number


def test_doveadm_and_postfix_reload_serve_the_renewed_certificate(plane: DataPlane) -> None:
    imaps, submissions = plane.settings.imaps_port, plane.settings.submissions_port
    first = file_serial(plane)
    assert served_serial(imaps) == served_serial(submissions) == first

    write_self_signed(acme_paths(plane.settings.tls_dir), "mail.example.test")  # "renewed"
    renewed = file_serial(plane)
    assert renewed != first
    settings = plane.settings.model_copy(update={"postfix_config": plane.postfix_dir})
    assert asyncio.run(reload_standard_servers(settings)), plane.logs()

    assert served_serial(imaps) == renewed, plane.logs()
    assert served_serial(submissions) == renewed, plane.logs()
