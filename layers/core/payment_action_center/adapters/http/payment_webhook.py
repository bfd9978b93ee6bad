"""The payment processor's webhook (docs/contract.md §4.1): its bodies as pydantic models
(validation is the schema, and the generated `webhooks` of openapi.json), read into the domain's
PaymentReport and handed to the use case (app/payment_events.py). The billing webhook's models
(billing_webhook.py) share the field types of this module."""

from datetime import timedelta
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from payment_action_center.app import payment_events
from payment_action_center.app.results import Result, unknown_type
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import (
    ADVICE_CODE,
    NETWORK_DECLINE_CODE,
    RETURN_CODE,
    SCHEDULED_KINDS,
    AccountHolder,
    Failure,
    InvoiceItem,
    Method,
    Network,
    PaymentKind,
    PaymentMethod,
    PaymentReport,
)
from payment_action_center.domain.errors import InvalidPayload, Problem
from payment_action_center.ports import Delivery, EntryStore, EventPublisher

# What a network or a bank says of a failure (domain/declines.py reads them).
NetworkCode = Annotated[str, StringConstraints(pattern=NETWORK_DECLINE_CODE)]
AdviceCode = Annotated[str, StringConstraints(pattern=ADVICE_CODE)]
ReturnCode = Annotated[str, StringConstraints(pattern=RETURN_CODE)]
# Ids go into keys and URLs: URL-safe, no separators of our own ('#').
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:~-]{1,128}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# Money is an integer of minor units: 12.5 or "1250" or true are refused, not coerced.
Amount = Annotated[int, Strict(), Field(gt=0, lt=10**15)]
Instant = Annotated[str, AfterValidator(timestamps.canonical)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class WireModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AccountHolderIn(WireModel):
    id: Id
    name: Name
    email: EmailStr

    def domain(self) -> AccountHolder:
        return AccountHolder(id=self.id, name=self.name, email=str(self.email))


class PaymentMethodIn(WireModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    card_id: Id | None = None
    brand: Annotated[str, StringConstraints(max_length=40)] | None = None
    last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    customer_id: Id | None = Field(
        default=None,
        description="the customer the token is saved to at the processor (Stripe: cus_…), "
        "needed to charge it again off-session",
    )

    def domain(self) -> PaymentMethod:
        return PaymentMethod(self.token, self.card_id, self.brand, self.last4, self.customer_id)


class InvoiceItemIn(WireModel):
    invoice_id: Id
    item_id: Id
    amount: Amount

    def domain(self) -> InvoiceItem:
        return InvoiceItem(self.invoice_id, self.item_id, self.amount)


class FailureIn(WireModel):
    code: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    message: Annotated[str, StringConstraints(max_length=2000)] = ""
    network: Network | None = Field(
        default=None, description="the card network that carried the declined payment"
    )
    network_decline_code: NetworkCode | None = Field(
        default=None,
        description="the issuer's response code as the network carries it (Visa 05, N7…)",
    )
    advice_code: AdviceCode | None = Field(
        default=None,
        description="Mastercard's Merchant Advice Code (03 do not try again, 24-30 retry after…)",
    )
    return_code: ReturnCode | None = Field(
        default=None,
        description="the bank's return code of a debit: ACH R01…R99, Canadian PAD 900…999",
    )

    def domain(self) -> Failure:
        return Failure(
            self.code,
            self.message,
            network=self.network,
            network_decline_code=self.network_decline_code,
            advice_code=self.advice_code,
            return_code=self.return_code,
        )


class PaymentData(WireModel):
    """`data` of payment.* and refund.* events."""

    organization_id: Id
    payment_id: Id
    kind: PaymentKind
    method: Method
    amount: Amount
    currency: Currency
    account_holder: AccountHolderIn
    payment_method: PaymentMethodIn
    scheduled_payment_id: Id | None = None
    invoice_items: Annotated[list[InvoiceItemIn], Field(min_length=1, max_length=500)]
    failure: FailureIn | None = None
    retry_of: Id | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        total = sum(item.amount for item in self.invoice_items)
        if total != self.amount:
            raise ValueError(f"invoice_items add up to {total}, not to amount {self.amount}")
        if self.kind in SCHEDULED_KINDS and self.scheduled_payment_id is None:
            raise ValueError(f"scheduled_payment_id is required for a {self.kind.value} payment")
        return self

    def failure_fits_method(self, failure: FailureIn) -> None:
        """A card network's codes on an e-check, or a bank's return code on a card, would be
        read by the wrong rules (domain/declines.py)."""
        card_fields = [
            name
            for name in ("network", "network_decline_code", "advice_code")
            if getattr(failure, name) is not None
        ]
        if self.method is Method.ECHECK and card_fields:
            raise ValueError(f"failure.{card_fields[0]} is for a credit_card payment, not echeck")
        if self.method is Method.CREDIT_CARD and failure.return_code is not None:
            raise ValueError("failure.return_code is for an echeck payment, not credit_card")


class Envelope(WireModel):
    type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    occurred_at: Instant
    data: dict[str, Any]


class PaymentEvent(WireModel):
    type: str
    occurred_at: Instant
    data: PaymentData

    @model_validator(mode="after")
    def _kind_matches_type(self) -> Self:
        is_refund_event = self.type.startswith("refund.")
        if is_refund_event != (self.data.kind is PaymentKind.REFUND):
            raise ValueError(f"a {self.type} event cannot carry kind {self.data.kind.value}")
        if self.type.endswith(".failed") and self.data.failure is None:
            raise ValueError(f"a {self.type} event needs failure {{code, message}}")
        if self.type.endswith(".failed") and self.data.failure is not None:
            self.data.failure_fits_method(self.data.failure)
        return self

    @property
    def failed(self) -> bool:
        return self.type.endswith(".failed")

    def report(self) -> PaymentReport:
        data = self.data
        return PaymentReport(
            occurred_at=self.occurred_at,
            failed=self.failed,
            organization_id=data.organization_id,
            payment_id=data.payment_id,
            kind=data.kind,
            method=data.method,
            amount=data.amount,
            currency=data.currency,
            account_holder=data.account_holder.domain(),
            payment_method=data.payment_method.domain(),
            invoice_items=tuple(item.domain() for item in data.invoice_items),
            failure=data.failure.domain() if data.failure else None,
            scheduled_payment_id=data.scheduled_payment_id,
            retry_of=data.retry_of,
        )


PAYMENT_EVENT_TYPES = frozenset(
    {"payment.failed", "refund.failed", "payment.succeeded", "refund.succeeded"}
)


def parse[M: BaseModel](model: type[M], body: Any) -> M:
    """Validate a body, turning pydantic's errors into the 400's list of reasons."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems = [
            Problem(".".join(str(part) for part in e["loc"]) or "(body)", e["msg"])
            for e in error.errors(include_url=False)
        ]
        raise InvalidPayload("the event does not validate", problems) from None


# How far ahead of its delivery an event may say it occurred: the signature's own clock
# tolerance (docs/contract.md §4.1). An event from further ahead would be the newest of its
# kind until that date and make every real one look older (billing_events.py keeps the latest).
FUTURE_TOLERANCE = timedelta(seconds=300)


def envelope_of(body: dict[str, Any], delivery: Delivery) -> Envelope:
    """The event's type and instant, refused (400) when it occurred after its delivery."""
    envelope = parse(Envelope, body)
    if envelope.occurred_at > timestamps.plus(delivery.received_at, FUTURE_TOLERANCE):
        problem = Problem("occurred_at", "is more than 300 s after the delivery was received")
        raise InvalidPayload("the event occurred in the future", [problem])
    return envelope


def handle_payment_event(
    store: EntryStore, publisher: EventPublisher, delivery: Delivery, body: dict[str, Any]
) -> Result:
    """Validate one verified body from the payment processor and apply what it reports."""
    envelope = envelope_of(body, delivery)
    if envelope.type not in PAYMENT_EVENT_TYPES:
        return unknown_type(envelope.type, PAYMENT_EVENT_TYPES)
    report = parse(PaymentEvent, body).report()
    return payment_events.handle_payment_report(store, publisher, delivery, report)
