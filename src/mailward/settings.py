"""One typed settings object, read from ``MAILWARD_*`` variables and an optional TOML file.

Core code never reads the environment: it receives values taken from this object.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Mode = Literal["development", "production"]
DataPlane = Literal["embedded", "dovecot"]


def ip_networks(entries: list[str] | tuple[str, ...]) -> list[str]:
    """Each entry as a normalized IP network (``10.0.0.7`` → ``10.0.0.7/32``); ValueError
    names the first that is none."""
    return [str(ipaddress.ip_network(entry.strip(), strict=False)) for entry in entries]


def parse_resolver(text: str) -> tuple[str, int]:
    """A DNS resolver ``"ip"``, ``"ip:port"`` or ``"[ipv6]:port"`` -> (ip, port)."""
    host, port = text.strip(), "53"
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53"
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
    ipaddress.ip_address(host)  # ValueError names the bad entry
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad DNS resolver port in {text!r}")
    return host, int(port)


LEAST_USED = "least-used"


class MailboxBackend(BaseModel):
    """A Dovecot mailbox backend behind the proxies: where its listeners are, and the
    doveadm configuration that reaches it from where ``mailward address move`` runs."""

    model_config = {"extra": "forbid"}

    host: str
    imap_port: int = Field(default=143, ge=1, le=65535)
    pop3_port: int = Field(default=110, ge=1, le=65535)
    lmtp_port: int = Field(default=24, ge=1, le=65535)
    doveadm_port: int = Field(default=2427, ge=1, le=65535)
    dovecot_config: Path | None = Field(
        default=None, description="its dovecot.conf, for doveadm sync and kick during a move"
    )


class Settings(BaseSettings):
    """Everything an operator can set. ``MAILWARD_<NAME>`` sets ``<name>``."""

    model_config = SettingsConfigDict(env_prefix="MAILWARD_", extra="forbid")

    mode: Mode = "development"
    data_dir: Path = Path("mailward-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite in the data directory when unset"
    )
    database_echo: bool = False
    redis_url: str | None = None

    hostname: str = Field(default="localhost", description="mail server name for clients")
    public_url: str = Field(default="", description="web manager URL; derived when empty")
    bind: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    https_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="embedded plane: the web manager also over TLS, with the mail certificate",
    )
    imap_port: int = Field(default=1143, ge=0, le=65535)
    imaps_port: int = Field(default=1993, ge=0, le=65535)
    pop3_port: int = Field(default=1110, ge=0, le=65535)
    pop3s_port: int = Field(default=1995, ge=0, le=65535)
    submission_port: int = Field(default=1587, ge=0, le=65535)
    submissions_port: int = Field(default=1465, ge=0, le=65535)
    smtp_port: int = Field(default=1025, ge=0, le=65535)
    auth_http_bind: str = "127.0.0.1"
    auth_http_port: int = Field(default=8081, ge=0, le=65535)
    auth_http_secret: SecretStr | None = None
    metrics_token: SecretStr | None = Field(
        default=None,
        description="/metrics, /healthz, /readyz on the auth listener also answer "
        "'Authorization: Bearer TOKEN' from other hosts (loopback needs nothing)",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="serve's log lines: text, or one JSON object per line"
    )

    acme_directory_url: str = Field(
        default="https://acme-v02.api.letsencrypt.org/directory",
        description="ACME server's directory (Let's Encrypt by default)",
    )
    acme_email: str = Field(default="", description="contact of the ACME account; none when empty")
    acme_ca_bundle: Path | None = Field(
        default=None,
        description="CA bundle trusted for the ACME server (a test CA such as Pebble's)",
    )
    acme_renew_days: int = Field(
        default=30,
        ge=1,
        le=89,
        description="serve renews the certificate this many days before expiry",
    )
    acme_check_interval_seconds: float = Field(
        default=12 * 3600.0, gt=0, description="how often serve checks whether to renew"
    )

    data_plane: DataPlane = Field(
        default="embedded",
        description="who serves IMAP/POP3/SMTP: Mailward itself, or Dovecot and Postfix",
    )
    dovecot_config: Path | None = Field(
        default=None, description="dovecot.conf whose sessions device changes end (doveadm)"
    )
    postfix_config: Path | None = Field(
        default=None,
        description="Postfix configuration directory reloaded after a certificate renewal",
    )
    mailbox_backends: dict[str, MailboxBackend] = Field(
        default_factory=dict,
        description="Dovecot mailbox backends behind proxies, by name; none: one machine",
    )
    mailbox_placement: str = Field(
        default=LEAST_USED,
        description="where new addresses go: least-used, or the name of a backend",
    )
    socketmap_bind: str = "127.0.0.1"
    socketmap_port: int = Field(default=2426, ge=0, le=65535)

    server_key_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    smarthost: str | None = None
    smarthost_port: int = 25
    smarthost_username: str | None = None
    smarthost_password: SecretStr | None = None
    smarthost_starttls: bool = True
    mail_from: str = ""
    max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)

    # The mail front before login: bounded bytes, commands, time and connections.
    mail_line_bytes: int = Field(default=8192, ge=512, le=1024 * 1024)
    mail_literal_before_login_bytes: int = Field(default=4096, ge=256, le=1024 * 1024)
    mail_commands_before_login: int = Field(default=20, ge=3, le=10_000)
    mail_login_timeout_seconds: float = Field(default=60.0, gt=0)
    imap_idle_timeout_seconds: float = Field(default=30 * 60.0, ge=30 * 60.0)
    pop3_idle_timeout_seconds: float = Field(default=10 * 60.0, ge=10 * 60.0)
    smtp_timeout_seconds: float = Field(default=5 * 60.0, ge=5 * 60.0)
    mail_max_connections: int = Field(default=2000, ge=1)
    mail_max_connections_per_network: int = Field(default=50, ge=1)
    http_max_connections: int = Field(default=1000, ge=1)
    internal_max_connections: int = Field(default=1000, ge=1)

    credential_cache_seconds: float = Field(default=300.0, ge=0)
    last_used_flush_seconds: float = Field(default=5.0, gt=0)
    device_upkeep_seconds: float = Field(
        default=60.0,
        gt=0,
        description="how often serve sends new-network notices, expires unused devices "
        "and prunes login history",
    )
    device_change_poll_seconds: float = Field(default=0.25, gt=0)
    audit_retention_days: int = Field(
        default=400,
        ge=1,
        description="days the audit log keeps an event: a year and a month, so last year's "
        "review of a yearly audit still finds it",
    )
    device_change_retention_days: int = Field(
        default=2,
        ge=1,
        description="days the device-change feed keeps a change (every node reads it within "
        "a second; a node down longer starts afresh)",
    )
    invitation_retention_days: int = Field(
        default=30, ge=1, description="days an expired invitation is kept, then deleted"
    )
    retention_prune_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="how often serve prunes the audit log, device changes, expired web "
        "sessions and invitations",
    )
    api_requests_per_minute: int = Field(default=1200, ge=1, le=1_000_000)
    sudo_minutes: int = Field(default=15, ge=1, le=24 * 60)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='reverse proxies whose X-Forwarded-For is believed: ["ip", "cidr", ...]',
    )
    # Mail logins' Argon2id pool: one core fewer than the machine has (at least one), so
    # a flood of chosen-password guesses leaves a core to the event loop (measured on 2
    # cores: p99 of generated-password logins during a flood 1.0x its baseline with one
    # worker, 1.4-3.3x with two).
    argon2_workers: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) - 1), ge=1, le=64
    )
    # Mail logins: Argon2id checks waiting or running, in total / per client network /
    # per address; beyond them a login is told "try later" at once. The web manager's
    # own password checks have their own pool and never wait behind mail logins.
    argon2_queue: int = Field(default=16, ge=1, le=10_000)
    argon2_per_network: int = Field(default=4, ge=1, le=10_000)
    argon2_per_address: int = Field(default=8, ge=1, le=10_000)
    manager_argon2_workers: int = Field(default=2, ge=1, le=64)
    # Login limits count an IPv6 client by its network of this many bits.
    ipv6_prefix_length: int = Field(default=64, ge=16, le=128)

    # Domain verification: the TXT lookups and the background re-checks of pending domains.
    dns_resolvers: list[str] = Field(
        default_factory=list, description='["ip", "ip:port", ...]; the system\'s when empty'
    )
    dns_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    domain_check_interval_seconds: float = Field(default=300.0, ge=1)
    domain_checks_per_pass: int = Field(default=20, ge=1, le=1000)

    # What the DNS page asks each domain to publish for its outgoing mail.
    dmarc_policy: Literal["none", "quarantine", "reject"] = Field(
        default="quarantine", description="p= of the DMARC record the DNS page proposes"
    )
    mta_sts_mode: Literal["testing", "enforce"] = Field(
        default="testing", description="mode of the MTA-STS policy served on mta-sts.DOMAIN"
    )

    # Mail arriving from other servers.
    inbound_checks: bool = Field(
        default=True,
        description="embedded inbound SMTP: SPF, DKIM and DMARC checked, Authentication-Results"
        " added, DMARC p=reject applied",
    )
    rspamd_enabled: bool = Field(
        default=False, description="production plane: Postfix passes mail through rspamd's milter"
    )
    rspamd_milter: str = Field(
        default="127.0.0.1:11332", description="host:port of rspamd's milter (proxy worker)"
    )
    rspamd_worker: str = Field(
        default="127.0.0.1:11333", description="host:port of rspamd's scanner behind the milter"
    )
    rspamd_reject_score: float = Field(
        default=15.0, gt=0, description="rspamd score at which inbound mail is refused"
    )
    rspamd_add_header_score: float = Field(
        default=6.0, gt=0, description="rspamd score at which inbound mail is marked as spam"
    )
    rspamd_greylisting: bool = Field(
        default=False, description="rspamd greylists unknown senders (needs Redis)"
    )

    @field_validator("dns_resolvers")
    @classmethod
    def _resolvers_are_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            parse_resolver(entry)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        return ip_networks(value)

    @field_validator("mailbox_backends")
    @classmethod
    def _backend_names_are_short(
        cls, value: dict[str, MailboxBackend]
    ) -> dict[str, MailboxBackend]:
        for name in value:
            if not 0 < len(name) <= 64 or not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"bad mailbox backend name {name!r} (letters, digits, - and _)")
        return value

    @model_validator(mode="after")
    def _placement_names_a_backend(self) -> Settings:
        rule = self.mailbox_placement
        if self.mailbox_backends and rule != LEAST_USED and rule not in self.mailbox_backends:
            raise ValueError(f"mailbox_placement {rule!r} is neither least-used nor a backend")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("MAILWARD_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.mode != "production":
            return self
        problems = []
        secret = self.auth_http_secret.get_secret_value() if self.auth_http_secret else ""
        if len(secret) < 32:
            problems.append("MAILWARD_AUTH_HTTP_SECRET must be set to at least 32 characters")
        if not self.public_url.startswith("https://"):
            problems.append("MAILWARD_PUBLIC_URL must be an https:// URL")
        if self.database_url is None or self.database_url.startswith("sqlite"):
            problems.append("MAILWARD_DATABASE_URL must name a PostgreSQL database")
        if self.server_key_file is None:
            problems.append("MAILWARD_SERVER_KEY_FILE must name an existing key file")
        if problems:
            raise ValueError("production mode refuses to start: " + "; ".join(problems))
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'mailward.db'}"

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.bind}:{self.http_port}"

    @property
    def key_file(self) -> Path:
        return self.server_key_file or self.data_dir / "keys" / "server-keys.json"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def sender_address(self) -> str:
        return self.mail_from or f"mailward@{self.hostname}"
