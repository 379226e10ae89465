"""DKIM signatures on mail leaving a device or Mailward itself (dkimpy; relaxed/relaxed,
``d=`` the From domain so DMARC aligns). A message is signed once, where it enters:
submission signs before local delivery and the spool share one copy, and the outbox
signs Mailward's own mail. Only a verified Mail Service's domain has keys; anything else
passes unsigned."""

from __future__ import annotations

import asyncio
import logging
from email.parser import BytesHeaderParser
from email.utils import getaddresses

import dkim

from mailward.core.mailservices.dkim import DkimKeyService, SigningKey

log = logging.getLogger(__name__)

CANONICALIZATION = (b"relaxed", b"relaxed")


def from_domain(content: bytes) -> str | None:
    """The domain of the message's one From address, lower case; None when there is no
    From, several addresses, or no domain."""
    headers = BytesHeaderParser().parsebytes(content)
    values = headers.get_all("From") or []
    addresses = [a for _, a in getaddresses([str(v) for v in values]) if a]
    if len(values) != 1 or len(addresses) != 1 or "@" not in addresses[0]:
        return None
    return addresses[0].rpartition("@")[2].strip().lower().rstrip(".") or None


def signatures(content: bytes, keys: list[SigningKey]) -> bytes:
    """One DKIM-Signature header per key, to put on top of ``content``."""
    lines = b""
    for key in keys:
        lines += dkim.sign(
            content,
            key.selector.encode(),
            key.domain.encode(),
            key.dkimpy_private_key,
            canonicalize=CANONICALIZATION,
            signature_algorithm=key.signature_algorithm,
        )
    return lines


class DkimSigner:
    def __init__(self, keys: DkimKeyService) -> None:
        self.keys = keys

    async def sign(self, content: bytes, sender_domain: str | None = None) -> bytes:
        """``content`` with signatures of its From domain's active keys. With
        ``sender_domain`` (a device's own domain) only a From of that domain is signed:
        one Mail Service's device never gets another domain's signature."""
        domain = from_domain(content)
        if domain is None or (sender_domain is not None and domain != sender_domain.lower()):
            return content
        keys = await self.keys.signing_keys(domain)
        if not keys:
            return content
        try:
            return await asyncio.to_thread(signatures, content, keys) + content
        except dkim.DKIMException as exc:
            log.warning("DKIM signing for %s failed: %s", domain, exc)
            return content
