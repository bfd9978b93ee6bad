"""Every port of the Action Center, in one place: the Protocols the use cases call, the failures
they catch from them, and the values that cross them when the domain has no better home for them.
One adapter each (DynamoDB, SQS, EventBridge, SES, the processor); in-memory fakes in the tests
(tests/shared/fakes.py). This module imports nothing from the layer but the domain (checked by the
contracts in pyproject.toml, `[tool.importlinter]`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Never, Protocol

from payment_action_center.domain.auto_retry import RetryPolicy, ScheduledRetries
from payment_action_center.domain.billing import (
    CardChange,
    CardRecord,
    Organization,
    Plan,
    ScheduledPayment,
    ScheduledPaymentChange,
)
from payment_action_center.domain.cards import CardPosition, ExpiringCard, ExpiringPage
from payment_action_center.domain.declines import RecommendedAction
from payment_action_center.domain.entries import (
    AuditEvent,
    BusEvent,
    Entry,
    EntryType,
    Failure,
    Locale,
    Method,
)
from payment_action_center.domain.listing import EntryFilter, Page, Position
from payment_action_center.domain.recovery import DayCounters, RecoveryFigures

# --- webhook deliveries --------------------------------------------------------------------------


class Delivery(Protocol):
    """A verified webhook delivery: its id is remembered for a while to drop redeliveries."""

    @property
    def endpoint(self) -> str: ...
    @property
    def webhook_id(self) -> str: ...
    @property
    def received_at(self) -> str: ...


# --- entries -------------------------------------------------------------------------------------


@dataclass
class StoreConflict(Exception):
    """A conditional write lost: which conditions failed, by role in the write."""

    failed: frozenset[str] = field(default_factory=frozenset)


class EntryStore(Protocol):
    def record_failure(self, entry: Entry, received: AuditEvent, delivery: Delivery) -> None:
        """Write a new entry, its audit event, its failure-log row and the delivery, atomically.

        Raises StoreConflict naming what already existed ("delivery", "entry"), or
        DeliveryInFlight when a concurrent write of the same items won the race.
        """
        ...

    def transition(
        self,
        entry: Entry,
        event: AuditEvent,
        *,
        outbox: Sequence[BusEvent] = (),
        delivery: Delivery | None = None,
        log_failure: bool = False,
        card_attempt: str | None = None,
    ) -> None:
        """Write the entry's next version (`entry.version`) over the previous one, atomically
        with its audit event, outbox events, delivery, (log_failure) a failure-log row and
        (card_attempt: a card, domain/retry_rules.py `card_of`) a reattempt of that card.
        StoreConflict("entry") if the stored version moved on; ("delivery") if seen before."""
        ...

    def card_reattempts(self, organization_id: str, card: str, since: str) -> list[str]:
        """The instants of the card's reattempts (`card_attempt` of `transition`) written since
        `since`, across the organization's entries, oldest first."""
        ...

    def get(self, organization_id: str, entry_id: str) -> Entry:
        """The entry, or NotFound (also for another organization's entry)."""
        ...

    def get_with_audit(self, organization_id: str, entry_id: str) -> tuple[Entry, list[AuditEvent]]:
        """The entry and its audit trail, oldest first."""
        ...

    def list_open(
        self, organization_id: str, where: EntryFilter, limit: int, after: Position | None
    ) -> Page:
        """Open entries matching `where`, newest failure first, `limit` at most."""
        ...

    def pending_retries(self, requested_before: str) -> list[Entry]:
        """Entries with a retry requested before that instant, every organization."""
        ...

    def outbox(self, older_than: str) -> list[BusEvent]:
        """Events written before that instant and not yet published."""
        ...

    def published(self, events: Sequence[BusEvent]) -> None:
        """Forget outbox events once the bus has them."""
        ...


# --- the automatic retry policy ------------------------------------------------------------------


class RetryPolicyStore(Protocol):
    """Each organization's automatic retry policy (domain/auto_retry.py) and which organizations
    the retry watchdog visits for it (app/auto_retry.py)."""

    def retry_policy(self, organization_id: str) -> RetryPolicy:
        """The saved policy, or the default (off)."""
        ...

    def policy_and_time_zone(self, organization_id: str) -> tuple[RetryPolicy, str | None]:
        """The policy and the organization's time zone (None before its settings arrive)."""
        ...

    def save_retry_policy(self, organization_id: str, policy: RetryPolicy) -> None:
        """Save the policy; while it is enabled the organization is visited from the next run."""
        ...

    def policies_due(self, now: str) -> list[tuple[str, RetryPolicy]]:
        """The organizations whose policy is on and whose next visit is at or before `now`."""
        ...

    def visited(self, organization_id: str, policy: RetryPolicy, visit_at: str) -> None:
        """Set the organization's next visit, unless its policy was saved again since read."""
        ...


# --- the event bus -------------------------------------------------------------------------------


class EventPublisher(Protocol):
    def publish(self, events: Sequence[BusEvent]) -> None:
        """Put the events on the bus; PublishFailed if any was refused."""
        ...


class PublishFailed(Exception):
    pass


# --- the work queues: the messages are in app/work.py ---------------------------------------------


class WorkMessage(Protocol):
    """A unit of work one function hands another through a queue."""

    def body(self) -> str: ...


# --- the retry queue -----------------------------------------------------------------------------


class QueueUnavailable(Exception):
    pass


class RetryQueue(Protocol):
    def send(self, work: WorkMessage) -> None: ...


# --- the payment processor -----------------------------------------------------------------------


class Operation(StrEnum):
    CHARGE = "charge"
    REFUND = "refund"


class ChargeOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # An e-check is not decided at once: the processor's webhook settles it later.
    PENDING = "pending"


@dataclass(frozen=True)
class ChargeRequest:
    operation: Operation
    transaction_id: str
    token: str
    method: Method
    amount: int
    currency: str
    idempotency_key: str
    # Echoed back by the processor in its settlement webhook (docs/contract.md §4.1 payment events).
    metadata: dict[str, Any] = field(default_factory=dict)
    # The organization's account at the processor (Organization.processor_account_id) the request
    # goes to; None for a processor without per-organization accounts (the sandbox).
    processor_account: str | None = None


@dataclass(frozen=True)
class ChargeResult:
    outcome: ChargeOutcome
    payment_id: str | None = None
    failure: Failure | None = None

    def answer(self) -> dict[str, Any]:
        """The processor's answer, as the audit trail keeps it."""
        answer: dict[str, Any] = {"outcome": self.outcome.value, "payment_id": self.payment_id}
        if self.failure is not None:
            answer["failure"] = {"code": self.failure.code, "message": self.failure.message}
        return answer


class ProcessorUnavailable(Exception):
    """A timeout or a 5xx: the outcome is unknown. Ask again later under the same key; never
    take it for a failure."""


class ProcessorRefused(Exception):
    """The processor will not act for the platform or for this organization (a key refused or
    not configured, an account the platform may no longer act on, an organization without an
    account): nothing was sent, and it is an alarm for the operators, never a failure of the
    customer's payment. The retry stays pending; the watchdog flags it at its deadline."""


class PaymentProcessor(Protocol):
    def charge(self, request: ChargeRequest) -> ChargeResult: ...

    def refund(self, request: ChargeRequest) -> ChargeResult: ...

    def status(self, request: ChargeRequest) -> ChargeResult | None:
        """What became of the request sent (or that would be sent) under its idempotency key;
        None if it never arrived. Never sends anything. The key says which request; the rest
        says where to look (the organization's account, the payment a refund refunds): an
        adapter may not go by the token or the method, which may have changed since it was
        sent (a scheduled payment's new method)."""
        ...


# --- billing state -------------------------------------------------------------------------------


type LinkedChange = CardChange | ScheduledPaymentChange


@dataclass(frozen=True)
class LinkedState:
    """A card or scheduled-payment change's starting point, as read: the recorded scheduled
    payment (for a scheduled-payment change) with its version, and the card records touched
    (CardRecord.new for unknown ones)."""

    scheduled_payment: ScheduledPayment | None
    cards: Mapping[str, CardRecord]
    scheduled_payment_version: int | None = None  # None: no item; 0: one without a version


class BillingStore(Protocol):
    def organization(self, organization_id: str) -> Organization | None: ...

    def organizations(self, organization_ids: Sequence[str]) -> dict[str, Organization]:
        """The known ones among many, read in batches."""
        ...

    def scheduled_payment(
        self, organization_id: str, scheduled_payment_id: str
    ) -> ScheduledPayment | None: ...

    def card(self, organization_id: str, card_id: str) -> CardRecord | None:
        """The card record (a stub while only scheduled payments naming the card are known)."""
        ...

    def save_organization(self, organization: Organization, delivery: Delivery) -> None:
        """Write the settings and the delivery marker atomically, unless newer settings are
        recorded. Raises StoreConflict naming what failed ("state": newer settings are
        recorded; "delivery": this webhook-id took effect before)."""
        ...

    def organization_for_account(self, account_id: str) -> Organization | None:
        """The organization whose settings name this processor account (`processor_account_id`,
        a Stripe Connect `acct_…`): how a Stripe event, which names only its account, finds its
        organization. None when no organization's current settings name it, even if one did
        before (an organization that moved to another account no longer receives its events)."""
        ...

    def read_linked(self, change: LinkedChange) -> LinkedState:
        """What a card or scheduled-payment change is planned from (domain/billing.py `plan`):
        the recorded scheduled payment and the card records of `cards_touched`, read
        consistently."""
        ...

    def write_linked(self, planned: Plan, read: LinkedState, delivery: Delivery) -> None:
        """Write the plan and the delivery marker atomically, each item only if unchanged since
        `read`. Raises StoreConflict({"delivery"}) when this webhook-id took effect before, or
        DeliveryInFlight when a concurrent write of the same items won the race."""
        ...

    def refuse_stale(self, change: LinkedChange, delivery: Delivery) -> Never:
        """A change older than the recorded state writes nothing: raises StoreConflict naming
        "state", and "delivery" too when this webhook-id took effect before."""
        ...


# --- expiring cards ------------------------------------------------------------------------------


class ExpiringCards(Protocol):
    def expiring(
        self, organization_id: str, month: str, limit: int, after: CardPosition | None
    ) -> ExpiringPage:
        """The organization's cards that qualify now and expire in `month` ("YYYY-MM"), ordered
        by card id, `limit` at most after `after`."""
        ...

    def organizations_expiring(self, month: str) -> list[str]:
        """The organizations with a card listed as expiring in `month`, each once: what the daily
        scan fans out to. Read from the index alone, so it may name an organization whose card
        stopped qualifying a moment ago (its sender finds nothing to send) or miss one that just
        started (the next day's scan finds it)."""
        ...


class CardNoticeQueue(Protocol):
    def send_all(self, work: Sequence[WorkMessage]) -> None: ...


# --- notification preferences --------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    organization_id: str
    user_id: str
    email: str
    failed_transactions_digest: bool
    locale: Locale
    updated_at: str


class PreferencesStore(Protocol):
    def preferences(self, organization_id: str, user_id: str) -> Preferences | None: ...

    def save_preferences(self, preferences: Preferences) -> None: ...

    def digest_subscribers(self, organization_id: str) -> list[Preferences]:
        """The admins of the organization who opted in to the digest."""
        ...


# --- the digest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestLine:
    """One failure of the last 24 hours."""

    holder_id: str
    holder_name: str
    amount: int  # minor units of `currency`
    currency: str
    type: EntryType
    payment_id: str
    failed_at: str  # canonical instant
    # What to do about it (domain/declines.py). None, not a guess, when neither the row nor its
    # type says which payment method failed (an installment or subscription logged before rows
    # kept the method).
    recommended_action: RecommendedAction | None = None


class FailureLog(Protocol):
    def organizations_with_failures(self, day: str) -> list[str]: ...

    def failures(self, organization_id: str, after: str, until: str) -> list[DigestLine]:
        """Failures with after < failed_at <= until, oldest first."""
        ...


class RecoveryCounters(Protocol):
    """The daily recovery counters (domain/recovery.py), written with the entries' changes."""

    def recovery_days(
        self, organization_id: str, first_day: str, last_day: str
    ) -> list[DayCounters]:
        """Every stored counter row of the days first_day..last_day (inclusive, YYYY-MM-DD)."""
        ...


class DigestQueue(Protocol):
    def send_all(self, work: Sequence[WorkMessage]) -> None: ...


# --- sending email -------------------------------------------------------------------------------


class MailerError(Exception):
    """The provider did not take the message (refused, throttled): sending again is safe.

    `code` names the reason (MessageRejected, TooManyRequestsException…) without the message's
    details, which may quote addresses: the code is what goes to the logs.
    """

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


class MailerOutcomeUnknown(Exception):
    """No answer (a timeout, a dropped connection): the message may have gone. Not resent."""


@dataclass(frozen=True)
class Email:
    """One rendered email, before the mail service's own format (adapters/aws/mime.py)."""

    subject: str
    html: str
    text: str
    headers: dict[str, str]


class DigestRenderer(Protocol):
    """The daily digest for one recipient (adapters/emails/digest.py)."""

    def __call__(
        self,
        *,
        organization: Organization,
        locale: str,
        lines: Sequence[DigestLine],
        preferences_url: str,
        unsubscribe_url: str,
        window_end: str,
        scheduled: ScheduledRetries | None = None,
        recovery: RecoveryFigures | None = None,
    ) -> Email: ...


class CardNoticeRenderer(Protocol):
    """The expiring card notice to one account holder (adapters/emails/card_notice.py)."""

    def __call__(self, *, organization: Organization, card: ExpiringCard) -> Email: ...


class Mailer(Protocol):
    def send(self, sender: str, to: str, email: Email) -> None:
        """MailerError when the provider refused or throttled this one message."""
        ...


class SendLedger(Protocol):
    """One row per organization, period (the digest's local date, a card's expiry month) and key
    (a recipient's address, a card id)."""

    def claim(self, organization_id: str, period: str, key: str, /) -> bool:
        """True when this run may send (never sent, or a send that was refused)."""
        ...

    def sent(self, organization_id: str, period: str, key: str, /) -> None: ...

    def release(self, organization_id: str, period: str, key: str, error: str, /) -> None: ...
