"""The Action Center's domain: failed transactions (entries), who acts on them, and what applies."""

import base64
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from payment_action_center.domain.errors import Conflict, Forbidden


class EntryType(StrEnum):
    CREDIT_CARD_REFUND = "credit_card_refund"
    ECHECK_PAYMENT = "echeck_payment"
    INSTALLMENT = "installment"
    SUBSCRIPTION = "subscription"


class Method(StrEnum):
    CREDIT_CARD = "credit_card"
    ECHECK = "echeck"


class PaymentKind(StrEnum):
    ONE_TIME = "one_time"
    INSTALLMENT = "installment"
    SUBSCRIPTION = "subscription"
    REFUND = "refund"


class Status(StrEnum):
    FAILED = "failed"
    RETRY_PENDING = "retry_pending"
    RECOVERED = "recovered"
    DISMISSED = "dismissed"

    @property
    def is_open(self) -> bool:
        """Open entries are the ones the Action Center table shows."""
        return self in (Status.FAILED, Status.RETRY_PENDING)


class Action(StrEnum):
    RETRY = "retry"
    DISMISS = "dismiss"
    CHANGE_PAYMENT_METHOD = "change_payment_method"


class Role(StrEnum):
    BILLING_ADMIN = "billing_admin"


# The languages the Action Center speaks: an organization's locale, an admin's digest, the emails.
Locale = Literal["fr-CA", "en-CA"]
DEFAULT_LOCALE: Locale = "fr-CA"


_TRACKED: dict[tuple[PaymentKind, Method], EntryType] = {
    (PaymentKind.REFUND, Method.CREDIT_CARD): EntryType.CREDIT_CARD_REFUND,
    (PaymentKind.ONE_TIME, Method.ECHECK): EntryType.ECHECK_PAYMENT,
    (PaymentKind.INSTALLMENT, Method.CREDIT_CARD): EntryType.INSTALLMENT,
    (PaymentKind.INSTALLMENT, Method.ECHECK): EntryType.INSTALLMENT,
    (PaymentKind.SUBSCRIPTION, Method.CREDIT_CARD): EntryType.SUBSCRIPTION,
    (PaymentKind.SUBSCRIPTION, Method.ECHECK): EntryType.SUBSCRIPTION,
}

SCHEDULED_KINDS = frozenset({PaymentKind.INSTALLMENT, PaymentKind.SUBSCRIPTION})

# Only an installment or a subscription has upcoming payments whose method the customer can
# change (docs/contract.md §2); for every other type, what the admin can do instead.
_CHANGES_PAYMENT_METHOD = frozenset({EntryType.INSTALLMENT, EntryType.SUBSCRIPTION})
_NO_PAYMENT_METHOD_TO_CHANGE: dict[EntryType, str] = {
    EntryType.CREDIT_CARD_REFUND: (
        "A refund has no payment method to change. A failed refund usually means the merchant "
        "account lacked funds: once it is funded, record a new refund in the main platform."
    ),
    EntryType.ECHECK_PAYMENT: (
        "A one-time e-check payment is not linked to upcoming payments: retry it, or dismiss it "
        "and take the payment another way in the main platform."
    ),
}


def tracked_type(kind: PaymentKind, method: Method) -> EntryType | None:
    """The entry type a failure of this kind becomes, or None when the Action Center ignores it.

    A one-time card payment fails at checkout, where the payer sees it at once; an e-check
    refund is not the merchant's to retry. Neither is recorded.
    """
    return _TRACKED.get((kind, method))


def entry_id_for(organization_id: str, payment_id: str) -> str:
    """One entry per failed payment: the id is derived from it, so a resent failure finds it."""
    digest = hashlib.sha256(f"{organization_id}\x1f{payment_id}".encode()).digest()
    return "txn_" + base64.b32encode(digest).decode("ascii")[:26].lower()


def fold(text: str) -> str:
    """Case- and accent-insensitive form for search: 'Éloïse' and 'eloise' fold alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class AccountHolder:
    id: str
    name: str
    email: str


@dataclass(frozen=True)
class PaymentMethod:
    token: str
    card_id: str | None = None
    brand: str | None = None
    last4: str | None = None
    # The customer the token is saved to at the processor, when it has customers (a Stripe
    # PaymentMethod is charged off-session only with its Customer named).
    customer_id: str | None = None


@dataclass(frozen=True)
class InvoiceItem:
    invoice_id: str
    item_id: str
    amount: int


class Network(StrEnum):
    """The card network (or debit scheme) that carried the declined payment."""

    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"
    INTERAC = "interac"
    JCB = "jcb"
    DINERS = "diners"
    UNIONPAY = "unionpay"


# The shapes of what a network or a bank says of a failure: the issuer's response code (Visa
# `05`, `N7`), Mastercard's Merchant Advice Code (`03`), a debit's return code (ACH `R01`, PAD
# `901`). The payments webhook refuses other shapes; the processor's own fields are dropped.
NETWORK_DECLINE_CODE = r"^[A-Za-z0-9]{1,4}$"
ADVICE_CODE = r"^[0-9]{2}$"
RETURN_CODE = r"^(R[0-9]{2}|9[0-9]{2})$"


@dataclass(frozen=True)
class Failure:
    """Why a payment or refund failed: the processor's code and message, and what the network or
    the bank said, when the processor passes it on (domain/declines.py reads them all)."""

    code: str
    message: str
    network: Network | None = None
    # The issuer's response code as the network carries it (Visa `05`, `N7`; Mastercard `51`).
    network_decline_code: str | None = None
    # Mastercard's Merchant Advice Code (`03` do not try again, `24`-`30` retry after…).
    advice_code: str | None = None
    # The bank's return code of a debit: ACH `R01`…, Canadian PAD `901`….
    return_code: str | None = None


def card_decline(
    code: str, message: str, *, network: str | None, decline: str | None, advice: str | None
) -> Failure:
    """A card decline with what the network said, as a processor passes it on: a network this
    module does not name, or a code of another shape, is left out rather than misread."""
    return Failure(
        code,
        message,
        network=Network(network) if network in set(Network) else None,
        network_decline_code=decline if _shaped(NETWORK_DECLINE_CODE, decline) else None,
        advice_code=advice if _shaped(ADVICE_CODE, advice) else None,
    )


def _shaped(pattern: str, value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


@dataclass(frozen=True)
class PaymentReport:
    """What the processor reports of one payment or refund (docs/contract.md §4.1), once its
    webhook body has been validated (adapters/http/payment_webhook.py)."""

    occurred_at: str
    failed: bool
    organization_id: str
    payment_id: str
    kind: PaymentKind
    method: Method
    amount: int
    currency: str
    account_holder: AccountHolder
    payment_method: PaymentMethod
    invoice_items: tuple[InvoiceItem, ...]
    failure: Failure | None = None
    scheduled_payment_id: str | None = None
    retry_of: str | None = None


@dataclass(frozen=True)
class Actor:
    type: Literal["user", "system"]
    id: str | None = None
    email: str | None = None


PAYMENT_PROCESSOR = Actor(type="system", id="payment-processor")
RETRY_WORKER = Actor(type="system", id="retry-worker")
RETRY_WATCHDOG = Actor(type="system", id="retry-watchdog")
# The organization's automatic retry policy (app/auto_retry.py) requesting a retry.
AUTO_RETRY = Actor(type="system", id="auto-retry")


@dataclass(frozen=True)
class Caller:
    """Who is asking, from the verified JWT claims: never from the request itself."""

    org_id: str
    user_id: str
    email: str | None
    groups: frozenset[str] = field(default_factory=frozenset)

    def require(self, role: Role) -> None:
        if role not in self.groups:
            raise Forbidden(f"this action needs the {role.value} role")

    @property
    def actor(self) -> Actor:
        return Actor(type="user", id=self.user_id, email=self.email)


@dataclass(frozen=True)
class AuditEvent:
    at: str
    action: str
    actor: Actor
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BusEvent:
    """An event for the billing platform (EventBridge). Written to the outbox with the change
    that causes it, so a publish that fails is retried, never lost."""

    id: str
    at: str
    detail_type: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class RetryState:
    """The retry in flight. Its attempt number (the entry's `attempts` when it was asked for)
    and the entry id make the processor's idempotency key: a redelivered message or a worker
    that crashed after charging asks again under the same key and can never charge twice."""

    attempt: int
    requested_at: str
    requested_by: Actor
    charge_sent_at: str | None = None
    # The method charged: a scheduled payment may have moved from card to e-check.
    charged_method: Method | None = None
    # Whether the charge went to the scheduled payment's method, changed after the failure
    # (app/retry_worker.py, charge_request), rather than the failed payment's own: a recovery
    # then counts as "payment method changed" (domain/recovery.py).
    method_changed: bool = False
    # The organization's account at the processor the charge was sent on: its status is looked
    # up, and the request sent again, there, even if the organization's account changed since
    # (a processor keeps idempotency keys per account: elsewhere the same key would charge again).
    processor_account: str | None = None
    processor_payment_id: str | None = None
    # "pending": an e-check awaiting the processor's settlement webhook.
    awaiting: str | None = None
    needs_attention: str | None = None

    def idempotency_key(self, entry_id: str) -> str:
        return f"{entry_id}:retry:{self.attempt}"


@dataclass(frozen=True)
class Entry:
    """A failed transaction in the Action Center, with everything needed to retry it."""

    id: str
    organization_id: str
    type: EntryType
    kind: PaymentKind
    method: Method
    status: Status
    amount: int
    currency: str
    account_holder: AccountHolder
    payment_id: str
    payment_method: PaymentMethod
    failure: Failure
    failed_at: str
    attempts: int
    invoice_items: tuple[InvoiceItem, ...]
    scheduled_payment_id: str | None
    received_at: str
    updated_at: str
    # occurred_at of the newest processor event applied: older ones never roll state back.
    state_at: str
    # Incremented by every change; audit events are numbered by it.
    version: int = 1
    retry: RetryState | None = None
    recovered_payment_id: str | None = None
    # occurred_at of the event that named payment_method: a scheduled payment's method
    # changed later than this is the newer one, and a retry charges it.
    payment_method_at: str = ""
    # Retries requested by the organization's automatic policy (domain/auto_retry.py): the next
    # one is automatic attempt `auto_attempts`, due on its day after the first failure.
    auto_attempts: int = 0
    # Whether the entry is in the recovery figures (domain/recovery.py): set when it is recorded,
    # so that an entry recorded before the figures existed, or a refund (money owed, not
    # revenue), never adds a recovery or a dismissal to a day that never counted its failure.
    in_figures: bool = False
    # failed_at of the first failure, kept once a retry failed again (failed_at moves): "" while
    # failed_at is still the first (`first_failure_at`).
    first_failed_at: str = ""
    # Why the automatic policy stopped retrying the entry (the rules refused for good), if it did.
    auto_stopped: str | None = None

    @property
    def first_failure_at(self) -> str:
        """When the payment first failed: failed_at until a retry failed again. An entry failed
        again before first_failed_at was kept has only received_at, its first failure's arrival."""
        if self.first_failed_at:
            return self.first_failed_at
        return self.failed_at if self.attempts == 1 else self.received_at

    @property
    def actions(self) -> tuple[Action, ...]:
        """What an admin can do with the entry now."""
        actions: list[Action] = []
        if self.status is Status.FAILED:
            actions += [Action.RETRY, Action.DISMISS]
        if self.status.is_open and self.changes_payment_method:
            actions.append(Action.CHANGE_PAYMENT_METHOD)
        return tuple(actions)

    @property
    def changes_payment_method(self) -> bool:
        """Whether the customer can change the method of the payments to come, whatever the
        status: an installment or a subscription."""
        return self.type in _CHANGES_PAYMENT_METHOD

    def require_payment_method_to_change(self) -> None:
        """Conflict, saying what to do instead, when the entry has no payment method to change."""
        if not self.changes_payment_method:
            raise Conflict(_NO_PAYMENT_METHOD_TO_CHANGE[self.type])

    def changed(self, at: str, **changes: Any) -> "Entry":
        """The next version of the entry."""
        return replace(self, updated_at=at, version=self.version + 1, **changes)

    # --- the lifecycle of docs/contract.md §2 -----------------------------------------------------

    def start_retry(self, by: Actor, at: str, *, automatic: int | None = None) -> "Entry":
        """`automatic`: asked by the organization's policy, as its attempt number (1-based),
        which the entry keeps (auto_attempts; a missed attempt is skipped, not made)."""
        if self.status is not Status.FAILED:
            raise Conflict(f"only a failed transaction can be retried; this one is {self.status}")
        retry = RetryState(attempt=self.attempts, requested_at=at, requested_by=by)
        auto_attempts = automatic if automatic is not None else self.auto_attempts
        return self.changed(
            at, status=Status.RETRY_PENDING, retry=retry, auto_attempts=auto_attempts
        )

    def automatic_retries_stopped(self, reason: str, at: str) -> "Entry":
        """No more automatic attempts: the rules refuse them for good (domain/auto_retry.py)."""
        if self.status is not Status.FAILED:
            raise Conflict(f"only a failed transaction is retried automatically: {self.status}")
        return self.changed(at, auto_stopped=reason)

    def dismiss(self, at: str) -> "Entry":
        if self.status is not Status.FAILED:
            raise Conflict(f"only a failed transaction can be dismissed; this one is {self.status}")
        return self.changed(at, status=Status.DISMISSED)

    def charge_sent(
        self, at: str, method: Method, account: str | None = None, method_changed: bool = False
    ) -> "Entry":
        retry = replace(
            self._pending_retry(),
            charge_sent_at=at,
            charged_method=method,
            processor_account=account,
            method_changed=method_changed,
        )
        return self.changed(at, retry=retry)

    @property
    def retry_method(self) -> Method:
        """The method of the retry in flight (what sets its deadline)."""
        charged = self.retry.charged_method if self.retry else None
        return charged or self.method

    def awaiting_settlement(self, processor_payment_id: str | None, at: str) -> "Entry":
        retry = replace(
            self._pending_retry(), awaiting="pending", processor_payment_id=processor_payment_id
        )
        return self.changed(at, retry=retry)

    def needing_attention(self, reason: str, at: str) -> "Entry":
        return self.changed(at, retry=replace(self._pending_retry(), needs_attention=reason))

    def recovered(self, payment_id: str, at: str, occurred_at: str) -> "Entry":
        self._pending_retry()
        return self.changed(
            at,
            status=Status.RECOVERED,
            recovered_payment_id=payment_id,
            state_at=max(self.state_at, occurred_at),
        )

    def failed_again(self, failure: Failure, failed_at: str, at: str) -> "Entry":
        """Back in the table (and in the next digest): one more attempt, failed_at moves."""
        self._pending_retry()
        return self.changed(
            at,
            status=Status.FAILED,
            attempts=self.attempts + 1,
            failed_at=failed_at,
            first_failed_at=self.first_failure_at,
            failure=failure,
            retry=None,
            state_at=max(self.state_at, failed_at),
        )

    def _pending_retry(self) -> RetryState:
        if self.status is not Status.RETRY_PENDING or self.retry is None:
            raise Conflict(f"no retry is pending for this transaction; it is {self.status}")
        return self.retry
