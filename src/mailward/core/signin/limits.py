"""Signing in to the web manager: password, then second factor, with rate limits
checked before any password hash is computed and counted in the shared rate-limit
store (so N nodes do not give N times the budget)."""

from __future__ import annotations

from datetime import timedelta

from mailward.core.access.actors import Actor
from mailward.core.accounts.service import AccountService, AccountView
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.limits import Counter, Limit, Limits
from mailward.core.networks import client_network
from mailward.errors import MailwardError
from mailward.limitstore import RateLimitStore

WINDOW = timedelta(minutes=15)
WINDOW_SECONDS = WINDOW.total_seconds()


class TooManyAttempts(MailwardError):
    code = "too-many-attempts"

    def __init__(self, retry_after: float) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(f"too many failed attempts; try again in about {minutes} minute(s)")
        self.retry_after = retry_after


EMAIL_LIMIT = Limit("email.signin", 5, WINDOW_SECONDS)
IP_LIMIT = Limit("ip.signin", 20, WINDOW_SECONDS)
EMAIL_NETWORK_LIMIT = Limit("email_network.signin", 5, WINDOW_SECONDS)
SECOND_FACTOR_LIMIT = Limit("account.second_factor", 5, WINDOW_SECONDS)
EMAIL_PURPOSE = "signin-email"
# Where a person completed a sign-in (password and second factor) before: from there,
# failures elsewhere do not stop them (DESIGN §7, "limits stop guessing, not owners").
KNOWN_NETWORK = "known.signin"
KNOWN_NETWORK_LIFETIME = timedelta(days=90)


class FailureWindow:
    """Failures per counter on the shared :class:`Limits`, refused with
    :class:`TooManyAttempts`."""

    def __init__(self, store: RateLimitStore) -> None:
        self.limits = Limits(store)

    async def check(self, *counters: Counter) -> None:
        """Raise :class:`TooManyAttempts` for the first counter at its limit. One store
        round trip when none is."""
        exceeded = await self.limits.exceeded(*counters)
        if exceeded is not None:
            raise TooManyAttempts(exceeded.retry_after)

    async def fail(self, *counters: Counter) -> None:
        await self.limits.hit(*counters)

    async def clear(self, limit: Limit, key: str) -> None:
        await self.limits.clear((limit, key))


class SignInService:
    def __init__(self, deps: CoreDeps, accounts: AccountService) -> None:
        self.deps = deps
        self.accounts = accounts
        self.limits = FailureWindow(deps.limit_store)

    async def check_password(self, email: str, password: str, ip: str) -> AccountView | None:
        """The account if the password is right. Raises :class:`TooManyAttempts` before
        hashing when the client's network, or the email from this network, failed too
        often; or the email from anywhere, unless this network is one the person signed
        in from before (so strangers' failures cannot lock the owner out)."""
        email_counter = self._email_counter(email.strip().lower())
        network = client_network(ip)
        counters = self._counters(email_counter, network)
        known = await self.deps.limit_store.has_flag(self._known_key(email_counter, network))
        await self.limits.check(*(c for c in counters if not known or c[0] != EMAIL_LIMIT))
        account = await self.accounts.verify_password(email, password)
        if account is None:
            await self.limits.fail(*counters)
            label = email.strip().lower()[:320]
            await self._audit(Actor(None, label, ip), AuditTag.ACCOUNT_LOGIN_FAILURE)
            return None
        await self.limits.clear(*counters[2])
        return account

    @staticmethod
    def _counters(email_counter: str, network: str) -> tuple[Counter, ...]:
        return (
            (IP_LIMIT, network),
            (EMAIL_LIMIT, email_counter),
            (EMAIL_NETWORK_LIMIT, f"{email_counter}:{network}"),
        )

    @staticmethod
    def _known_key(email_counter: str, network: str) -> str:
        return f"{KNOWN_NETWORK}:{email_counter}:{network}"

    def _email_counter(self, email_key: str) -> str:
        # A keyed hash: people type a password into the email field now and then, and
        # the counter's key may be in a shared Redis.
        return self.deps.keys.mac(EMAIL_PURPOSE, email_key.encode()).hex()[:32]

    async def check_network_allowed(self, ip: str) -> None:
        """Before a sign-in without a password (a passkey): the network's failures."""
        await self.limits.check((IP_LIMIT, client_network(ip)))

    async def network_failed(self, ip: str) -> None:
        """A refused passkey answer counts as a failed sign-in of its network."""
        await self.limits.fail((IP_LIMIT, client_network(ip)))

    async def check_second_factor_allowed(self, account_id: int) -> None:
        await self.limits.check((SECOND_FACTOR_LIMIT, str(account_id)))

    async def second_factor_failed(self, account_id: int) -> None:
        await self.limits.fail((SECOND_FACTOR_LIMIT, str(account_id)))

    async def signed_in(self, account: AccountView, ip: str) -> None:
        """Password and second factor done: remember this network for this person."""
        await self.limits.clear(SECOND_FACTOR_LIMIT, str(account.id))
        known = self._known_key(self._email_counter(account.email), client_network(ip))
        await self.deps.limit_store.set_flag(known, KNOWN_NETWORK_LIFETIME.total_seconds())
        await self._audit(Actor(account.id, account.email, ip), AuditTag.ACCOUNT_LOGIN)

    async def _audit(self, actor: Actor, tag: AuditTag) -> None:
        async with self.deps.db.unit_of_work() as uow:
            target = AuditTarget(label=actor.label)
            record(uow.session, actor, tag, target, self.deps.clock.now())
