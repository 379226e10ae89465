"""A node's metrics and health, wired from its services for ``mailward serve``."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from mailward.bootstrap import Services
from mailward.mail.sessions import SessionRegistry
from mailward.mail.tls import certificate_paths
from mailward.ops.health import NodeHealth
from mailward.ops.metrics import NodeCollector
from mailward.ops.routes import OpsRoutes


class CertificateExpiry:
    """The served certificate's expiry, read again only when the file changes."""

    def __init__(self, services: Services) -> None:
        self.settings = services.settings
        self._seen: tuple[str, float] | None = None
        self._expiry: float | None = None

    def __call__(self) -> float | None:
        s = self.settings
        path = certificate_paths(s.tls_dir, s.tls_cert_file, s.tls_key_file).cert
        try:
            stamp = (str(path), path.stat().st_mtime)
            if stamp != self._seen:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
                self._expiry = cert.not_valid_after_utc.timestamp()
                self._seen = stamp
        except (OSError, ValueError):
            return None
        return self._expiry


class NodeOps:
    """``/metrics``, ``/healthz``, ``/readyz`` for this node. :meth:`start` registers
    the node's gauges; :meth:`stop` removes them."""

    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        self.health = NodeHealth(services.db, services.keys, services.deps.limit_store)
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        self.routes = OpsRoutes(self.health, token)
        self.sessions: SessionRegistry | None = None
        self.collector = NodeCollector(
            self._live_sessions, self._spool, CertificateExpiry(services)
        )

    def start(self) -> None:
        self.services.count_device_changes()
        self.collector.register()

    def stop(self) -> None:
        self.collector.unregister()

    def _live_sessions(self) -> dict[str, int]:
        return self.sessions.count_by_protocol() if self.sessions else {}

    def _spool(self) -> tuple[int, float]:
        entries = self.services.outbox.spool.entries()
        if not entries:
            return 0, 0.0
        oldest: datetime = min(entry.queued for entry in entries)
        return len(entries), max(0.0, (self.services.clock.now() - oldest).total_seconds())
