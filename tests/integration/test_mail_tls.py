"""The listeners' certificate: self-signed on first start, configured files first,
reloaded in place."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from cryptography import x509

from mailward.mail.tls import CertificatePaths, ServerTls, write_self_signed
from tests.integration.mail_world import client_tls


async def served_certificate(context: ssl.SSLContext) -> x509.Certificate:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_tls())
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
    finally:
        server.close()
    return x509.load_der_x509_certificate(der)


def common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


async def test_a_self_signed_certificate_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    tls = ServerTls.from_settings(tmp_path / "tls", "mail.example.test", None, None)
    assert tls.paths.key.stat().st_mode & 0o077 == 0
    first = tls.paths.cert.read_bytes()
    ServerTls.from_settings(tmp_path / "tls", "mail.example.test", None, None)
    assert tls.paths.cert.read_bytes() == first
    assert common_name(await served_certificate(tls.context)) == "mail.example.test"


async def test_configured_files_win_and_a_reload_serves_the_new_certificate(
    tmp_path: Path,
) -> None:
    configured = CertificatePaths(tmp_path / "cert.pem", tmp_path / "key.pem")
    write_self_signed(configured, "configured.example.test")
    tls = ServerTls.from_settings(tmp_path / "tls", "ignored", configured.cert, configured.key)
    assert common_name(await served_certificate(tls.context)) == "configured.example.test"
    assert not (tmp_path / "tls").exists()
    write_self_signed(configured, "renewed.example.test")
    tls.reload()
    assert common_name(await served_certificate(tls.context)) == "renewed.example.test"
