"""Builds the real services from settings, in one place. Tests hand in fakes instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from mailward.clock import Clock, SystemClock
from mailward.core.access.grants import GrantService
from mailward.core.access.rights import RightsService
from mailward.core.accounts.apitokens import ApiTokenService
from mailward.core.accounts.emailproof import EmailProofService
from mailward.core.accounts.service import AccountService
from mailward.core.addresses.placement import PlacementService
from mailward.core.addresses.rule import PlacementRule
from mailward.core.addresses.service import AddressService
from mailward.core.audit.service import AuditLogService
from mailward.core.deps import CoreDeps, DeviceChangeNotice
from mailward.core.devices.changes import DEVICE_CHANGES_CHANNEL, DeviceChangeFeed, DeviceEventHub
from mailward.core.devices.history import DeviceHistoryService
from mailward.core.devices.newnetworks import NewNetworkNotices
from mailward.core.devices.service import DeviceService
from mailward.core.devices.unused import UnusedDevices
from mailward.core.invitations.service import InvitationService
from mailward.core.mailservices.dkim import DkimKeyService
from mailward.core.mailservices.dns_records import DnsRecordService
from mailward.core.mailservices.domainchecks import DomainChecks
from mailward.core.mailservices.service import MailServiceService
from mailward.core.notifications import Mailer, SecurityNotices
from mailward.core.organizations.policy import PolicyService
from mailward.core.organizations.service import OrganizationService
from mailward.core.passkeys.service import PasskeyService, RelyingParty
from mailward.core.passwords import PasswordHasher
from mailward.core.retention import Retention, RetentionService
from mailward.core.signin.limits import SignInService
from mailward.core.signin.totp import SecondFactorService
from mailward.core.signin.websessions import WebSessionService
from mailward.db.engine import Database
from mailward.db.migrate import upgrade
from mailward.db.notify import change_signal_for
from mailward.dnslookup import DnsTxtLookup
from mailward.keys import ServerKeys, load_key_file
from mailward.redis_limitstore import make_rate_limit_store
from mailward.settings import Settings

if TYPE_CHECKING:
    from mailward.auth.authenticator import Authenticator
    from mailward.auth.limits import AuthLimits
    from mailward.device_upkeep import DeviceUpkeep
    from mailward.limitstore import RateLimitStore
    from mailward.mail.outbox import Outbox
    from mailward.mail.sessions import SessionRegistry
    from mailward.retention_pruning import RetentionPruning


@dataclass
class Services:
    """The use cases, wired. Edges (web, CLI, mail servers) hold one of these."""

    settings: Settings
    deps: CoreDeps
    events: DeviceEventHub
    accounts: AccountService = field(init=False)
    organizations: OrganizationService = field(init=False)
    mail_services: MailServiceService = field(init=False)
    domain_checks: DomainChecks = field(init=False)
    dkim: DkimKeyService = field(init=False)
    dns_records: DnsRecordService = field(init=False)
    addresses: AddressService = field(init=False)
    placements: PlacementService = field(init=False)
    devices: DeviceService = field(init=False)
    device_history: DeviceHistoryService = field(init=False)
    policies: PolicyService = field(init=False)
    audit: AuditLogService = field(init=False)
    invitations: InvitationService = field(init=False)
    rights: RightsService = field(init=False)
    grants: GrantService = field(init=False)
    web_sessions: WebSessionService = field(init=False)
    second_factor: SecondFactorService = field(init=False)
    signin: SignInService = field(init=False)
    api_tokens: ApiTokenService = field(init=False)
    passkeys: PasskeyService = field(init=False)
    _notices: SecurityNotices | None = field(init=False, default=None, repr=False)
    _kicks_dovecot: bool = field(init=False, default=False, repr=False)
    _counts_changes: bool = field(init=False, default=False, repr=False)

    def __post_init__(self) -> None:
        self.accounts = AccountService(self.deps)
        self.organizations = OrganizationService(self.deps)
        checks = self.settings.domain_check_interval_seconds
        self.mail_services = MailServiceService(self.deps, checks)
        self.domain_checks = DomainChecks(
            self.deps,
            DnsTxtLookup(self.settings.dns_resolvers, self.settings.dns_timeout_seconds),
            checks,
            self.settings.domain_checks_per_pass,
        )
        self.dkim = DkimKeyService(self.deps)
        self.dns_records = DnsRecordService(self.settings, self.mail_services, self.dkim)
        placement = PlacementRule.from_settings(self.settings)
        self.addresses = AddressService(self.deps, placement)
        self.placements = PlacementService(self.deps, placement)
        self.devices = DeviceService(self.deps)
        self.device_history = DeviceHistoryService(self.deps, self.devices)
        self.policies = PolicyService(self.deps)
        self.audit = AuditLogService(self.deps)
        self.invitations = InvitationService(self.deps, self.devices)
        self.rights = RightsService(self.deps)
        self.grants = GrantService(self.deps)
        self.web_sessions = WebSessionService(self.deps, self.settings.sudo_minutes)
        self.second_factor = SecondFactorService(self.deps)
        self.signin = SignInService(self.deps, self.accounts)
        self.api_tokens = ApiTokenService(self.deps)
        relying_party = RelyingParty.from_public_url(self.settings.effective_public_url)
        self.passkeys = PasskeyService(self.deps, relying_party)

    @property
    def db(self) -> Database:
        return self.deps.db

    @property
    def keys(self) -> ServerKeys:
        return self.deps.keys

    @property
    def clock(self) -> Clock:
        return self.deps.clock

    def change_feed(self) -> DeviceChangeFeed:
        return DeviceChangeFeed(
            self.db,
            self.events,
            self.settings.device_change_poll_seconds,
            self.deps.device_change_signal,
        )

    @cached_property
    def outbox(self) -> Outbox:
        """The node's one outbound path (spool, local delivery, smarthost worker)."""
        from mailward.mail.outbox import build_outbox  # an edge, wired here when used

        return build_outbox(self)

    def retention_pruning(self) -> RetentionPruning:
        """The background pruning of the audit log, device changes, web sessions and
        invitations, by the retention settings."""
        from mailward.retention_pruning import RetentionPruning

        s = self.settings
        retention = Retention(
            audit_days=s.audit_retention_days,
            device_change_days=s.device_change_retention_days,
            invitation_days=s.invitation_retention_days,
        )
        return RetentionPruning(RetentionService(self.deps, retention), s.retention_prune_seconds)

    def device_upkeep(self) -> DeviceUpkeep:
        """New-network notices, unused-device expiry and history pruning, as a task."""
        from mailward.device_upkeep import DeviceUpkeep

        url, sender = self.settings.effective_public_url, self.settings.sender_address
        return DeviceUpkeep(
            NewNetworkNotices(self.deps, self.mailer, sender, url),
            self.unused_devices(self.mailer),
            self.device_history,
            self.settings.device_upkeep_seconds,
        )

    def unused_devices(self, mailer: Mailer | None = None) -> UnusedDevices:
        url, sender = self.settings.effective_public_url, self.settings.sender_address
        return UnusedDevices(self.deps, self.devices, mailer or self.mailer, sender, url)

    @cached_property
    def mailer(self) -> Mailer:
        """How this node sends its own email (notices, invitations, codes): the outbox."""
        from mailward.mail.outbox import OutboxMailer

        return OutboxMailer(self.outbox)

    def send_security_notices(self, mailer: Mailer | None = None) -> None:
        """Tell the address's users and the administrators about each device change made
        in this process (web manager, API, CLI), in the background after the revocation.
        Called by what makes changes (``mailward serve``, the web manager, the CLI);
        subscribed once per node however many apps use it. Changes read from the change
        feed are the other nodes' to tell, so one change makes one notice."""
        if self._notices is not None:
            return
        sender = self.settings.sender_address
        self._notices = SecurityNotices(self.db, mailer or self.mailer, sender)
        self.events.subscribe(self._notices.device_changed, only_here=True)

    @cached_property
    def email_proofs(self) -> EmailProofService:
        """Codes mailed to prove an email address (an account's first or new password)."""
        url, sender = self.settings.effective_public_url, self.settings.sender_address
        return EmailProofService(self.deps, self.mailer, sender, url)

    # Revocation: what ends a changed device's access is subscribed here and only here
    # (the credential cache, the live sessions, Dovecot's sessions); the hub runs these
    # before any background subscriber such as the security notices.

    def build_authenticator(
        self, limits: AuthLimits | None = None, store: RateLimitStore | None = None
    ) -> Authenticator:
        """A device authenticator whose credential cache drops a changed device's
        entries as a revocation subscriber (in-process at once; other processes' changes
        once the change feed runs)."""
        from mailward.auth.runtime import assemble_authenticator  # an edge, wired here

        authenticator = assemble_authenticator(self, limits, store)
        self.events.subscribe_revocation(authenticator.cache.device_changed)
        return authenticator

    @cached_property
    def sessions(self) -> SessionRegistry:
        """The node's live IMAP and POP3 sessions: a changed device's end at once."""
        from mailward.mail.sessions import SessionRegistry

        registry = SessionRegistry(self.clock)
        self.events.subscribe_revocation(registry.device_changed)
        return registry

    def kick_dovecot_sessions(self) -> bool:
        """End a changed device's Dovecot sessions (``doveadm kick``), once per node,
        when ``settings.dovecot_config`` names the local Dovecot; False when it does not."""
        config = self.settings.dovecot_config
        if config is None:
            return False
        if not self._kicks_dovecot:
            from mailward.integrations.kick import dovecot_kick_subscriber

            self.events.subscribe_revocation(dovecot_kick_subscriber(config))
            self._kicks_dovecot = True
        return True

    def count_device_changes(self) -> None:
        """Count each device change, and its lag from commit to revocation, on this
        node's ``/metrics`` (:class:`~mailward.ops.node.NodeOps`); once per node."""
        if self._counts_changes:
            return
        from mailward.ops.metrics import record_device_change  # an edge, wired here

        async def counted(notice: DeviceChangeNotice) -> None:
            record_device_change(notice.kind, notice.at, self.clock.now())

        self.events.subscribe_revocation(counted)
        self._counts_changes = True

    async def close(self) -> None:
        await self.events.close()  # queued notices reach the spool before the exit
        self.deps.close_hashers()
        await self.deps.limit_store.close()
        await self.db.dispose()


def prepare_data_dir(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


async def build_services(
    settings: Settings,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
    migrate: bool = True,
) -> Services:
    """Open the database (migrating it unless told not to) and wire the use cases."""
    prepare_data_dir(settings)
    keys = load_key_file(settings.key_file, create=settings.mode != "production")
    db = Database(settings.effective_database_url, echo=settings.database_echo)
    if migrate:
        await upgrade(db.engine)
    events = DeviceEventHub()
    deps = CoreDeps(
        db=db,
        keys=keys,
        hasher=hasher or PasswordHasher(workers=settings.manager_argon2_workers),
        login_hasher=hasher or PasswordHasher(workers=settings.argon2_workers, yielding=True),
        clock=clock or SystemClock(),
        device_events=events,
        device_change_signal=change_signal_for(db, DEVICE_CHANGES_CHANNEL),
        limit_store=make_rate_limit_store(settings),
    )
    return Services(settings=settings, deps=deps, events=events)
