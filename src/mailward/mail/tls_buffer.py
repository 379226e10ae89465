"""The read buffer asyncio gives every TLS connection, sized for idle sessions.

Python 3.11's asyncio (``asyncio.sslproto.SSLProtocol``) allocates a zero-filled
256 KiB ``bytearray`` for each TLS connection as it opens, to receive into, and keeps it
resident for the connection's whole life: of the ~300 KiB an idle IMAP session over TLS
held in the embedded server, ~260 KiB were that buffer (bench/idle.py). A TLS record is
at most 16 KiB plus its header and padding, so a 32 KiB buffer still takes whole records
a read; a large APPEND costs a few more reads, not more memory.
"""

from __future__ import annotations

from asyncio.sslproto import SSLProtocol

TLS_READ_BUFFER = 32 * 1024


def bound_tls_read_buffer(size: int = TLS_READ_BUFFER) -> None:
    """TLS connections opened from now on in this process read into ``size`` bytes
    (never raised above asyncio's own default)."""
    SSLProtocol.max_size = min(SSLProtocol.max_size, size)
