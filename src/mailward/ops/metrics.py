"""Mailward's Prometheus metrics (``prometheus-client``), served at ``GET /metrics`` on
the auth endpoint's listener (:mod:`mailward.ops.routes`).

Counters and histograms live in the process's default registry. The login path pays one
dictionary lookup, one ``inc`` and one ``observe`` per attempt (children are made once,
:class:`LoginMeter`). Values that are read rather than counted (live sessions, the
outbound spool, certificate expiry) come from :class:`NodeCollector` at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mailward.auth.interfaces import AuthenticatedDevice, AuthResult, FailureReason, MailProtocol

LOGIN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RESULTS = ("ok", "wrong", "limited", "tempfail")
OTHER_PROTOCOL = "other"

LOGINS = Counter("mailward_logins", "Device logins by protocol and result", ["protocol", "result"])
LOGIN_SECONDS = Histogram(
    "mailward_login_seconds",
    "Time to answer a device login, by protocol and result",
    ["protocol", "result"],
    buckets=LOGIN_BUCKETS,
)
DEVICE_CHANGES = Counter(
    "mailward_device_changes", "Device changes seen by this node, by kind", ["kind"]
)
DEVICE_CHANGE_LAG = Histogram(
    "mailward_device_change_lag_seconds",
    "From a device change's commit to this node dropping its credentials",
    buckets=LAG_BUCKETS,
)
RATE_LIMIT_REFUSALS = Counter(
    "mailward_rate_limit_refusals", "Logins refused by a rate limit, by limit", ["limit"]
)
DATABASE_ERRORS = Counter(
    "mailward_database_errors", "Database reads that failed or timed out on the login path"
)
REDIS_ERRORS = Counter(
    "mailward_redis_errors", "Rate-limit store calls to Redis that failed (counted in memory)"
)


def result_label(result: AuthResult) -> str:
    if isinstance(result, AuthenticatedDevice):
        return "ok"
    if result.reason == FailureReason.WRONG_CREDENTIALS:
        return "wrong"
    if result.reason == FailureReason.RATE_LIMITED:
        return "limited"
    return "tempfail"


class LoginMeter:
    """Counts and times logins with pre-made label children (cheap on the hot path)."""

    def __init__(self) -> None:
        protocols = [*MailProtocol.__members__.values(), OTHER_PROTOCOL]
        self._children = {
            (str(p), r): (LOGINS.labels(str(p), r), LOGIN_SECONDS.labels(str(p), r))
            for p in protocols
            for r in RESULTS
        }

    def record(self, protocol: str, result: AuthResult, started: float) -> None:
        children = self._children.get((protocol, result_label(result)))
        if children is None:
            children = self._children[(OTHER_PROTOCOL, result_label(result))]
        children[0].inc()
        children[1].observe(time.perf_counter() - started)


def record_device_change(kind: str, committed_at: datetime | None, now: datetime) -> None:
    DEVICE_CHANGES.labels(kind).inc()
    if committed_at is not None:
        if committed_at.tzinfo is None:  # SQLite gives the stored UTC time back naive
            committed_at = committed_at.replace(tzinfo=UTC)
        DEVICE_CHANGE_LAG.observe(max(0.0, (now - committed_at).total_seconds()))


class NodeCollector(Collector):
    """Gauges read at scrape time from the running node. Each source is a callable so
    that a part that is not running (no embedded sessions, no ACME certificate) simply
    reports nothing."""

    def __init__(
        self,
        sessions: Callable[[], Mapping[str, int]],
        spool: Callable[[], tuple[int, float]],
        certificate_expiry: Callable[[], float | None],
    ) -> None:
        self.sessions = sessions
        self.spool = spool
        self.certificate_expiry = certificate_expiry

    def collect(self) -> Iterable[Metric]:
        live = GaugeMetricFamily(
            "mailward_live_sessions", "Authenticated mail sessions by protocol", labels=["protocol"]
        )
        for protocol, count in sorted(self.sessions().items()):
            live.add_metric([protocol], count)
        yield live
        depth, oldest = self.spool()
        yield GaugeMetricFamily("mailward_spool_messages", "Messages in the outbound spool", depth)
        yield GaugeMetricFamily(
            "mailward_spool_oldest_age_seconds", "Age of the oldest spooled message", oldest
        )
        expiry = self.certificate_expiry()
        if expiry is not None:
            yield GaugeMetricFamily(
                "mailward_certificate_expiry_timestamp_seconds",
                "When the served TLS certificate expires (Unix time)",
                expiry,
            )

    def register(self) -> None:
        REGISTRY.register(self)

    def unregister(self) -> None:
        REGISTRY.unregister(self)
