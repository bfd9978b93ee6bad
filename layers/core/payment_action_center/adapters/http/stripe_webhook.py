"""Stripe's webhook, POST /webhooks/stripe (docs/webhooks.md, "Stripe"): the Connect events of the
organizations' connected accounts, read into the domain's PaymentReport and handed to the same use
case as the processor's own webhook (app/payment_events.py).

What Stripe's objects do not know (what kind of payment it was, who the account holder is, which
invoice items it paid) the billing platform writes into their `metadata`, as the Stripe processor
does for the retries it sends (adapters/processors/stripe_processor.py `stripe_metadata`). Their
field types are those of the processor's webhook (payment_webhook.py).

Only a body that is not a Stripe event at all is refused (400). An event this service cannot use
(another type, an account no organization has, metadata missing or invalid) is answered 200
`ignored` with the reason: Stripe resends anything else for three days, and a resend would be
refused alike.

The stripe SDK is imported only inside `verify`: the other webhooks share this Lambda and must not
load it at cold start (tests/unit/infra/test_cold_imports.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    EmailStr,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from payment_action_center.adapters.http import strict_json
from payment_action_center.adapters.http.errors import PayloadTooLarge, WebhookRejected
from payment_action_center.adapters.http.payment_webhook import (
    FUTURE_TOLERANCE,
    Amount,
    Id,
    InvoiceItemIn,
    Name,
    WireModel,
    parse,
)
from payment_action_center.adapters.http.signatures import MAX_BODY_BYTES, Delivery
from payment_action_center.app import payment_events
from payment_action_center.app.results import Outcome, Result, unknown_type
from payment_action_center.app.retry_worker import SentRequest
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import (
    SCHEDULED_KINDS,
    AccountHolder,
    Failure,
    Method,
    PaymentKind,
    PaymentMethod,
    PaymentReport,
    card_decline,
)
from payment_action_center.domain.errors import InvalidPayload, Problem
from payment_action_center.ports import (
    BillingStore,
    ChargeOutcome,
    ChargeResult,
    EntryStore,
    EventPublisher,
)

ENDPOINT = "stripe"
# Stripe's own default, and the other webhooks' window (signatures.py).
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 -- the prefix Stripe gives its secrets, not one

PAYMENT_FAILED = "payment_intent.payment_failed"
PAYMENT_SUCCEEDED = "payment_intent.succeeded"
REFUND_FAILED = "refund.failed"
REFUND_UPDATED = "refund.updated"
STRIPE_EVENT_TYPES = frozenset({PAYMENT_FAILED, PAYMENT_SUCCEEDED, REFUND_FAILED, REFUND_UPDATED})
# A refund.updated says something only once the refund is settled; pending and requires_action
# change nothing here.
SETTLED_REFUND = frozenset({"succeeded", "failed", "canceled"})
# A canceled refund did not reach the customer: failed, as the Stripe processor reads it too
# (stripe_processor.py `_of_refund`).
UNDONE_REFUND = frozenset({"failed", "canceled"})

# Stripe's payment method types, by the method the Action Center knows them as. Any other type
# (Link, SEPA, a wallet Stripe does not report as a card) is ignored, saying which.
METHODS = {
    "card": Method.CREDIT_CARD,
    "us_bank_account": Method.ECHECK,
    "acss_debit": Method.ECHECK,
}

# Stripe's refund failure_reason values, as a sentence for the admin (the code stays the reason).
REFUND_FAILURES = {
    "lost_or_stolen_card": "The card was reported lost or stolen: the refund could not reach it.",
    "expired_or_canceled_card": "The card has expired or was canceled: the refund was returned.",
    "insufficient_funds": "The connected account's Stripe balance was too low for the refund.",
    "declined": "The card's bank declined the refund.",
    "merchant_request": "The refund was canceled at the merchant's request.",
    "charge_for_pending_refund_disputed": "The payment is disputed: the refund was stopped.",
}
REFUND_FAILED_MESSAGE = "Stripe could not complete the refund."
PAYMENT_FAILED_MESSAGE = "The payment failed."
CODE_LENGTH, MESSAGE_LENGTH = 100, 2000


# --- signature -----------------------------------------------------------------------------------


def signing_secrets(secret: str) -> list[str]:
    """The endpoint's signing secrets: one, or two separated by white space while Stripe rolls
    it (docs/webhooks.md). A value that is not `whsec_…` is the operator's mistake (the template's
    placeholder is `unset`): it fails the invocation, naming the secret by position, never by
    value, and Stripe retries once it is fixed."""
    secrets = secret.split()
    if not secrets:
        raise ValueError("the Stripe webhook secret holds no signing secret")
    for position, value in enumerate(secrets, start=1):
        if not value.startswith(SECRET_PREFIX) or len(value) <= len(SECRET_PREFIX):
            raise ValueError(
                f"secret {position} of the Stripe webhook secret is not a {SECRET_PREFIX}… "
                "signing secret: store the endpoint's (docs/webhooks.md)"
            )
    return secrets


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """The size, then the `Stripe-Signature` header checked by the stripe SDK against each of the
    secrets (constant-time, timestamps older than 300 s refused). Every failure is the same 401;
    the reasons are kept for the log, never sent back."""
    secrets = signing_secrets(secret)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
    header = {name.lower(): value for name, value in headers.items()}.get("stripe-signature")
    if not header:
        raise WebhookRejected("no Stripe-Signature header")
    import stripe  # noqa: PLC0415 -- this route's alone: see the module's docstring

    refusals = []
    for secret_value in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                body, header, secret_value, tolerance=TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as error:
            refusals.append(error.user_message or "signature refused")
        except (ValueError, TypeError) as error:
            # A body that is not UTF-8 (UnicodeDecodeError), a signature with characters that
            # are not ASCII (hmac.compare_digest's TypeError).
            refusals.append(type(error).__name__)
        else:
            return
    raise WebhookRejected(f"Stripe signature refused: {'; '.join(refusals)}")


# --- the event -----------------------------------------------------------------------------------

StripeId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
# Unix seconds, as Stripe writes `created`.
UnixSeconds = Annotated[int, Strict(), Field(ge=0, lt=10**11)]
# Stripe writes currencies in lower case; the domain's are ISO 4217, upper case.
StripeCurrency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{3}$"),
    BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
]


class StripeEventData(WireModel):
    object: dict[str, Any]


class StripeEvent(WireModel):
    """The envelope of every Stripe event: enough to route it and keep it once."""

    id: Id
    type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    created: UnixSeconds
    # The connected account it happened on; absent for the platform's own events.
    account: StripeId | None = None
    data: StripeEventData

    @property
    def occurred_at(self) -> str:
        return timestamps.from_datetime(datetime.fromtimestamp(self.created, UTC))


# What the billing platform writes on its PaymentIntents and Refunds (StripeMetadata below).
ObjectMetadata = Annotated[
    dict[str, str],
    Field(
        description="set by the billing platform (docs/webhooks.md §9.4): kind, "
        "account_holder_id, account_holder_name, account_holder_email, invoice_items (JSON "
        "text), scheduled_payment_id, and optionally organization_id, card_id, method, "
        "retry_of; missing or invalid: 200 ignored",
    ),
]


class StripeExpanded(WireModel):
    """An object Stripe may send expanded where it usually sends its id."""

    id: StripeId


class StripeCard(WireModel):
    brand: Annotated[str, StringConstraints(max_length=40)] | None = None
    # Stripe names the network as our Network does (visa, mastercard, amex, discover, jcb,
    # diners, unionpay, interac), and others we have no rules for.
    network: Annotated[str, StringConstraints(max_length=40)] | None = None
    last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None


class StripePaymentMethod(WireModel):
    id: StripeId
    type: StripeId
    card: StripeCard | None = None


class StripePaymentError(WireModel):
    """A PaymentIntent's `last_payment_error`."""

    code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    payment_method: StripePaymentMethod | None = None
    # What the network said, as Stripe passes it on: the issuer's response code and
    # Mastercard's Merchant Advice Code. Kept only in the shape the rules read.
    network_decline_code: str | None = None
    network_advice_code: str | None = None

    def failure(self) -> Failure:
        code = self.decline_code or self.code or "payment_failed"
        message = self.message or PAYMENT_FAILED_MESSAGE
        card = self.payment_method.card if self.payment_method else None
        return card_decline(
            code[:CODE_LENGTH],
            message[:MESSAGE_LENGTH],
            network=(card.network or card.brand) if card else None,
            decline=self.network_decline_code,
            advice=self.network_advice_code,
        )


def _id(value: str | StripeExpanded | StripePaymentMethod | None) -> str | None:
    return value if value is None or isinstance(value, str) else value.id


class StripePaymentIntent(WireModel):
    id: Id
    amount: Amount
    currency: StripeCurrency
    customer: Id | StripeExpanded | None = None
    payment_method: StripeId | StripePaymentMethod | None = None
    payment_method_types: list[str] = []
    last_payment_error: StripePaymentError | None = None
    metadata: ObjectMetadata = {}

    def used(self) -> StripePaymentMethod | None:
        """The payment method charged, when Stripe names it with its type: a failed intent keeps
        it only in last_payment_error (its payment_method is cleared for the next attempt)."""
        error = self.last_payment_error
        if error is not None and error.payment_method is not None:
            return error.payment_method
        return self.payment_method if isinstance(self.payment_method, StripePaymentMethod) else None

    def method_type(self) -> str | None:
        used = self.used()
        if used is not None:
            return used.type
        return self.payment_method_types[0] if self.payment_method_types else None

    def token(self) -> str | None:
        used = self.used()
        return used.id if used is not None else _id(self.payment_method)


class StripeRefund(WireModel):
    id: Id
    amount: Amount
    currency: StripeCurrency
    status: StripeId
    payment_intent: StripeId | StripeExpanded | None = None
    charge: StripeId | StripeExpanded | None = None
    failure_reason: str | None = None
    metadata: ObjectMetadata = {}

    def failure(self) -> Failure:
        reason = (self.failure_reason or "unknown")[:CODE_LENGTH]
        return Failure(reason, REFUND_FAILURES.get(reason, REFUND_FAILED_MESSAGE))


def _json_text(value: Any) -> Any:
    """A metadata value written as JSON text (Stripe keeps strings only), read as strictly as a
    body (strict_json.py)."""
    if not isinstance(value, str):
        return value
    try:
        return strict_json.parse(value.encode())
    except strict_json.JsonRefused as error:
        raise ValueError(f"is not JSON: {error}") from None


class StripeMetadata(WireModel):
    """The metadata keys the billing platform sets on its PaymentIntents and Refunds (and the
    Stripe processor on its retries), documented in docs/webhooks.md."""

    organization_id: Id | None = None
    kind: PaymentKind
    account_holder_id: Id
    account_holder_name: Name
    account_holder_email: EmailStr
    scheduled_payment_id: Id | None = None
    invoice_items: Annotated[
        list[InvoiceItemIn], BeforeValidator(_json_text), Field(min_length=1, max_length=500)
    ]
    card_id: Id | None = None
    retry_of: Id | None = None
    # A refund's method: Stripe's Refund does not say how the refunded payment was made.
    method: Method | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind in SCHEDULED_KINDS and self.scheduled_payment_id is None:
            raise ValueError(f"scheduled_payment_id is required for a {self.kind.value} payment")
        return self

    def account_holder(self) -> AccountHolder:
        return AccountHolder(
            self.account_holder_id, self.account_holder_name, str(self.account_holder_email)
        )


class Ignored(Exception):
    """An event this service cannot use: answered 200 `ignored`, the reason logged."""


def validated[M: BaseModel](model: type[M], value: Any, what: str) -> M:
    """`value` as `model`, or Ignored naming the keys that failed and why (never their values)."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '(all)'}: {e['msg']}"
            for e in error.errors(include_url=False, include_input=False)
        )
        raise Ignored(f"{what} does not validate: {problems}") from None


def handle_stripe_event(
    billing: BillingStore,
    store: EntryStore,
    publisher: EventPublisher,
    body: dict[str, Any],
    received_at: str,
) -> Result:
    """Validate one verified Stripe event and apply what it reports. It is kept once by its id
    (the delivery marker), and ordered by `created` (the use case ignores what is older than the
    state it would change)."""
    event = parse(StripeEvent, body)
    delivery = Delivery(endpoint=ENDPOINT, webhook_id=event.id, received_at=received_at)
    if event.occurred_at > timestamps.plus(received_at, FUTURE_TOLERANCE):
        problem = Problem("created", "is more than 300 s after the delivery was received")
        raise InvalidPayload("the event occurred in the future", [problem])
    if event.type not in STRIPE_EVENT_TYPES:
        return unknown_type(event.type, STRIPE_EVENT_TYPES)
    try:
        read = read_report(billing, event)
    except Ignored as ignored:
        return Result(Outcome.IGNORED, str(ignored))
    if isinstance(read, Settlement):
        return payment_events.settle_outcome(
            store,
            publisher,
            delivery,
            read.organization_id,
            read.retry_of,
            read.result,
            event.occurred_at,
            read.sent,
        )
    return payment_events.handle_payment_report(store, publisher, delivery, read)


@dataclass(frozen=True)
class Settlement:
    """The outcome of a retry's own payment (metadata `retry_of`): all a pending retry needs.
    The Stripe processor writes the rest of its metadata too, but leaves out what would not fit
    Stripe's limits (a long list of invoice items): a settlement never depends on it."""

    organization_id: str
    retry_of: str
    result: ChargeResult
    # Checked against the attempt pending: only its own PaymentIntent or Refund settles it.
    sent: SentRequest


class RetryMetadata(WireModel):
    retry_of: Id
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255)]


def read_report(billing: BillingStore, event: StripeEvent) -> PaymentReport | Settlement:
    """The PaymentReport an event makes, or the retry it settles, for the organization of its
    connected account; Ignored when it makes none."""
    if event.type.startswith("refund."):
        refund = validated(StripeRefund, event.data.object, "the refund")
        if event.type == REFUND_UPDATED and refund.status not in SETTLED_REFUND:
            raise Ignored(f"refund {refund.id} is {refund.status}: not settled yet")
        settles_nothing(refund.status == "succeeded", refund.metadata)
        organization_id = organization_of(billing, event, refund.metadata)
        if "retry_of" in refund.metadata:
            failed = event.type == REFUND_FAILED or refund.status in UNDONE_REFUND
            failure = refund.failure() if failed else None
            sent = (refund.amount, refund.currency)
            return settlement(organization_id, refund.metadata, refund.id, failure, sent)
        return refund_report(event, refund, organization_id)
    intent = validated(StripePaymentIntent, event.data.object, "the payment intent")
    settles_nothing(event.type == PAYMENT_SUCCEEDED, intent.metadata)
    organization_id = organization_of(billing, event, intent.metadata)
    if "retry_of" in intent.metadata:
        failure = None
        if event.type == PAYMENT_FAILED:
            failure = (intent.last_payment_error or StripePaymentError()).failure()
        sent = (intent.amount, intent.currency)
        return settlement(organization_id, intent.metadata, intent.id, failure, sent)
    return payment_report(event, intent, organization_id)


def settlement(
    organization_id: str,
    metadata: dict[str, str],
    payment_id: str,
    failure: Failure | None,
    amount_and_currency: tuple[int, str],
) -> Settlement:
    retry = validated(RetryMetadata, metadata, "the retry's metadata")
    outcome = ChargeOutcome.SUCCEEDED if failure is None else ChargeOutcome.FAILED
    return Settlement(
        organization_id,
        retry.retry_of,
        ChargeResult(outcome, payment_id=payment_id, failure=failure),
        SentRequest(retry.idempotency_key, *amount_and_currency),
    )


def settles_nothing(succeeded: bool, metadata: dict[str, str]) -> None:
    """Most successes are no retry's (every payment on every connected account): ignored before
    anything is read, as the use case would ignore them after."""
    if succeeded and "retry_of" not in metadata:
        raise Ignored("a success that settles no retry")


def organization_of(billing: BillingStore, event: StripeEvent, metadata: dict[str, str]) -> str:
    """The organization whose connected account the event happened on (Connect's `account`);
    metadata naming another organization is refused, not believed."""
    if event.account is None:
        raise Ignored("the event names no connected account: not a Connect event")
    organization = billing.organization_for_account(event.account)
    if organization is None:
        raise Ignored(f"no organization has the connected account {event.account}")
    claimed = metadata.get("organization_id")
    if claimed is not None and claimed != organization.id:
        raise Ignored(
            f"the metadata's organization_id is not that of the connected account {event.account}"
        )
    return organization.id


def payment_report(
    event: StripeEvent, intent: StripePaymentIntent, organization_id: str
) -> PaymentReport:
    metadata = validated(StripeMetadata, intent.metadata, "the payment intent's metadata")
    if metadata.kind is PaymentKind.REFUND:
        raise Ignored(f"a {event.type} event cannot carry kind refund")
    method_type = intent.method_type()
    method = METHODS.get(method_type or "")
    if method is None:
        raise Ignored(f"payment method type {method_type!r} is neither a card nor an e-check")
    token = intent.token()
    if token is None:
        raise Ignored(f"payment intent {intent.id} names no payment method")
    used = intent.used()
    card = used.card if used is not None else None
    failed = event.type == PAYMENT_FAILED
    return PaymentReport(
        occurred_at=event.occurred_at,
        failed=failed,
        organization_id=organization_id,
        payment_id=intent.id,
        kind=metadata.kind,
        method=method,
        amount=checked_amount(intent.amount, metadata),
        currency=intent.currency,
        account_holder=metadata.account_holder(),
        payment_method=PaymentMethod(
            token=token,
            card_id=metadata.card_id,
            brand=card.brand if card is not None else None,
            last4=card.last4 if card is not None else None,
            customer_id=_id(intent.customer),
        ),
        invoice_items=tuple(item.domain() for item in metadata.invoice_items),
        failure=(intent.last_payment_error or StripePaymentError()).failure() if failed else None,
        scheduled_payment_id=metadata.scheduled_payment_id,
        retry_of=metadata.retry_of,
    )


def refund_report(event: StripeEvent, refund: StripeRefund, organization_id: str) -> PaymentReport:
    metadata = validated(StripeMetadata, refund.metadata, "the refund's metadata")
    if metadata.kind is not PaymentKind.REFUND:
        raise Ignored(f"a refund cannot carry kind {metadata.kind.value}")
    token = _id(refund.payment_intent) or _id(refund.charge)
    if token is None:
        raise Ignored(f"refund {refund.id} names no payment it refunds")
    failed = event.type == REFUND_FAILED or refund.status in UNDONE_REFUND
    return PaymentReport(
        occurred_at=event.occurred_at,
        failed=failed,
        organization_id=organization_id,
        payment_id=refund.id,
        kind=PaymentKind.REFUND,
        method=metadata.method or Method.CREDIT_CARD,
        amount=checked_amount(refund.amount, metadata),
        currency=refund.currency,
        account_holder=metadata.account_holder(),
        payment_method=PaymentMethod(token=token, card_id=metadata.card_id),
        invoice_items=tuple(item.domain() for item in metadata.invoice_items),
        failure=refund.failure() if failed else None,
        scheduled_payment_id=metadata.scheduled_payment_id,
        retry_of=metadata.retry_of,
    )


def checked_amount(amount: int, metadata: StripeMetadata) -> int:
    """The object's amount, if the invoice items add up to it (as payment_webhook.py requires)."""
    total = sum(item.amount for item in metadata.invoice_items)
    if total != amount:
        raise Ignored(f"the metadata's invoice_items add up to {total}, not to amount {amount}")
    return amount
