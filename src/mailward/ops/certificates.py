"""Certificates from an ACME CA (Let's Encrypt by default) with certbot's ``acme`` library.

The certificate covers ``hostname`` and the ``autoconfig.``, ``autodiscover.`` and
``mta-sts.`` names of every verified Mail Service. HTTP-01 challenges are answered by
Mailward's own web listener (``/.well-known/acme-challenge/TOKEN``, read from
``tls_dir/acme-challenges``), so ``mailward certs issue`` in another process works while
``serve`` runs. The ACME account key lives beside the key ring. The new key and chain
replace the old ones only once the CA issued them: a failed challenge leaves the
certificate in place.

The ``acme`` client is synchronous (``requests``): call :meth:`AcmeIssuer.issue` in a
thread from async code.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwk import JWKRSA
from sqlalchemy import select

from mailward.db.engine import Database
from mailward.db.models import MailService
from mailward.mail.tls import CertificatePaths, acme_paths
from mailward.settings import Settings

USER_AGENT = "mailward"
FINALIZE_SECONDS = 90
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
SERVICE_PREFIXES = ("autoconfig.", "autodiscover.", "mta-sts.")


class CertificateError(Exception):
    """The CA did not issue a certificate; the message says why in one line."""


@dataclass(frozen=True)
class AcmeConfig:
    directory_url: str
    email: str
    ca_bundle: Path | None
    account_key: Path
    challenges: Path
    certificate: CertificatePaths

    @classmethod
    def from_settings(cls, settings: Settings) -> AcmeConfig:
        return cls(
            directory_url=settings.acme_directory_url,
            email=settings.acme_email,
            ca_bundle=settings.acme_ca_bundle,
            account_key=settings.key_file.parent / "acme-account-key.pem",
            challenges=challenge_dir(settings.tls_dir),
            certificate=acme_paths(settings.tls_dir),
        )


def challenge_dir(tls_dir: Path) -> Path:
    return tls_dir / "acme-challenges"


def challenge_answer(tls_dir: Path, token: str) -> bytes | None:
    """The key authorization for ``token`` while a challenge is pending, else None."""
    if not TOKEN.match(token):
        return None
    try:
        return (challenge_dir(tls_dir) / token).read_bytes()
    except OSError:
        return None


def service_names(hostname: str, domains: list[str]) -> list[str]:
    names = [hostname.lower()]
    names += [prefix + domain for domain in sorted(domains) for prefix in SERVICE_PREFIXES]
    return list(dict.fromkeys(names))


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = path.with_name(f".{path.name}.new")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(scratch, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def install_certificate(paths: CertificatePaths, key_pem: bytes, chain_pem: bytes) -> None:
    """Key first, then chain, each atomically; a reload between the two sees a key that
    does not match and keeps the certificate it has (:meth:`ServerTls.reload`)."""
    write_private(paths.key, key_pem)
    write_private(paths.cert, chain_pem, 0o644)


def expires_at(cert_file: Path) -> dt.datetime | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError):
        return None
    return cert.not_valid_after_utc


def load_account_key(path: Path) -> JWKRSA:
    """The ACME account key, made on first use (RSA 2048, mode 0600)."""
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(path, pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return JWKRSA(key=cast(rsa.RSAPrivateKey, loaded))


def new_certificate_key() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class AcmeIssuer:
    def __init__(self, config: AcmeConfig) -> None:
        self.config = config

    def issue(self, names: list[str]) -> None:
        """Obtain a certificate for ``names`` and install it. Raises
        :class:`CertificateError`; nothing is installed then."""
        try:
            key_pem, chain_pem = self._order(names)
        except errors.ValidationError as exc:
            raise CertificateError(f"challenge failed: {_validation_problems(exc)}") from None
        except messages.Error as exc:
            raise CertificateError(f"the ACME server refused: {exc}") from None
        except (errors.Error, requests.RequestException) as exc:
            raise CertificateError(f"ACME request failed: {exc}") from None
        install_certificate(self.config.certificate, key_pem, chain_pem)

    def _order(self, names: list[str]) -> tuple[bytes, bytes]:
        account_key = load_account_key(self.config.account_key)
        acme = self._client(account_key)
        key_pem = new_certificate_key()
        order = acme.new_order(crypto_util.make_csr(key_pem, names))
        with self._answering(acme, account_key, order):
            deadline = dt.datetime.now() + dt.timedelta(seconds=FINALIZE_SECONDS)
            finished = acme.poll_and_finalize(order, deadline)
        return key_pem, finished.fullchain_pem.encode()

    def _client(self, account_key: JWKRSA) -> client.ClientV2:
        verify: Any = str(self.config.ca_bundle) if self.config.ca_bundle else True
        net = client.ClientNetwork(account_key, user_agent=USER_AGENT, verify_ssl=verify)
        directory = client.ClientV2.get_directory(self.config.directory_url, net)
        acme = client.ClientV2(directory, net=net)
        registration = messages.NewRegistration.from_data(
            email=self.config.email or None, terms_of_service_agreed=True
        )
        try:
            acme.new_account(registration)
        except errors.ConflictError as exists:  # the key has an account: use it
            net.account = messages.RegistrationResource(
                uri=exists.location, body=messages.Registration()
            )
        return acme

    @contextmanager
    def _answering(
        self, acme: client.ClientV2, account_key: JWKRSA, order: messages.OrderResource
    ) -> Iterator[None]:
        """Publish the HTTP-01 answers for the web listener, tell the CA, and remove
        them afterwards whatever happened. An authorization the CA already holds as
        valid (CAs reuse them across orders, RFC 8555 7.1.3) needs no answer: answering
        it again is refused."""
        written: list[Path] = []
        try:
            for authorization in order.authorizations:
                if authorization.body.status == messages.STATUS_VALID:
                    continue
                challenge = _http01(authorization)
                response, validation = challenge.response_and_validation(account_key)
                token = challenge.chall.encode("token")
                path = self.config.challenges / token
                write_private(path, validation.encode(), 0o644)
                written.append(path)
                acme.answer_challenge(challenge, response)
            yield
        finally:
            for path in written:
                path.unlink(missing_ok=True)


def _http01(authorization: messages.AuthorizationResource) -> messages.ChallengeBody:
    for challenge in authorization.body.challenges:
        if isinstance(challenge.chall, challenges.HTTP01):
            return challenge
    name = authorization.body.identifier.value
    raise CertificateError(f"the ACME server offers no HTTP-01 challenge for {name}")


def _validation_problems(exc: errors.ValidationError) -> str:
    problems = []
    for authorization in exc.failed_authzrs:
        name = authorization.body.identifier.value
        details = [str(c.error.detail) for c in authorization.body.challenges if c.error]
        problems.append(f"{name}: {'; '.join(details) or 'invalid'}")
    return ", ".join(problems) or "invalid authorization"


async def verified_domains(db: Database) -> list[str]:
    async with db.unit_of_work() as uow:
        query = select(MailService.domain).where(MailService.verified_at.is_not(None))
        return list(await uow.session.scalars(query))


async def certificate_names(settings: Settings, db: Database) -> list[str]:
    """The host name and the service names of every verified Mail Service."""
    return service_names(settings.hostname, await verified_domains(db))
