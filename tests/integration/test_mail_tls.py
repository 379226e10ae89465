"""The listeners' certificate: self-signed on first start, configured files first,
reloaded in place."""

from __future__ import annotations

import asyncio
import os
import ssl
from asyncio.sslproto import SSLProtocol
from pathlib import Path

from cryptography import x509

from mailward.mail.tls import CertificatePaths, ServerTls, write_self_signed
from mailward.mail.tls_buffer import TLS_READ_BUFFER, bound_tls_read_buffer
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


async def test_a_tls_connection_reads_into_32_kib_and_still_takes_a_large_message_whole(
    tmp_path: Path,
) -> None:
    """Idle sessions keep a 32 KiB TLS read buffer instead of asyncio's 256 KiB; a
    message many times larger still arrives byte for byte."""
    bound_tls_read_buffer()
    assert SSLProtocol.max_size == TLS_READ_BUFFER == 32 * 1024
    tls = ServerTls.from_settings(tmp_path / "tls", "mail.example.test", None, None)
    message = os.urandom(1024 * 1024)
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def read_all(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.set_result(await reader.readexactly(len(message)))
        writer.close()

    server = await asyncio.start_server(read_all, "127.0.0.1", 0, ssl=tls.context)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_tls())
        writer.write(message)
        await writer.drain()
        assert await asyncio.wait_for(received, 30) == message
        writer.close()
    finally:
        server.close()
