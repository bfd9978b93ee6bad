"""What a billing-platform event does (design §4.1): organization settings, scheduled payments.

The platform sends whole states, possibly out of order. A state is replaced only by an event that
is not older (`occurred_at` at full precision; an equal one applies), so every ordering of the
same deliveries ends in the same state. Card events come with the expiring-cards slice.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import quote
from zoneinfo import available_timezones

from pydantic import AfterValidator, AnyHttpUrl, EmailStr, TypeAdapter, ValidationError

from payment_action_center.errors import StoreConflict
from payment_action_center.events import (
    AccountHolderIn,
    Amount,
    Currency,
    Envelope,
    Id,
    Instant,
    Name,
    PaymentMethodIn,
    WireModel,
    parse,
)
from payment_action_center.intake import Outcome, Result
from payment_action_center.model import AccountHolder, Method, PaymentKind, PaymentMethod
from payment_action_center.ports import Delivery

HOLDER_PLACEHOLDER = "{account_holder_id}"


@dataclass(frozen=True)
class Organization:
    """An organization's settings, as the billing platform last sent them."""

    id: str
    name: str
    billing_contact_email: str
    locale: str
    time_zone: str
    console_url: str
    upcoming_payments_url_template: str
    client_url_template: str
    card_update_url_template: str
    state_at: str

    def upcoming_payments_url(self, account_holder_id: str) -> str:
        """The customer's Upcoming payments page in the main platform."""
        return self.upcoming_payments_url_template.replace(
            HOLDER_PLACEHOLDER, quote(account_holder_id, safe="")
        )


@dataclass(frozen=True)
class ScheduledPayment:
    """An installment plan or a subscription. Once ended it stays, inactive, with what was known;
    ended before any upsert arrived, it is a tombstone: its details (kind included) are None."""

    organization_id: str
    id: str
    kind: PaymentKind | None
    account_holder: AccountHolder | None
    payment_method: PaymentMethod | None
    method: Method | None
    next_payment_at: str | None
    amount: int | None
    currency: str | None
    active: bool
    state_at: str


@dataclass(frozen=True)
class ScheduledPaymentEnded:
    """`scheduled_payment.ended`: the payment stays known, inactive, as of `state_at`."""

    organization_id: str
    scheduled_payment_id: str
    state_at: str

    def applied_to(self, current: ScheduledPayment | None) -> ScheduledPayment:
        if current is None:
            # A tombstone, so that an older upsert arriving later cannot bring it back.
            return ScheduledPayment(
                organization_id=self.organization_id,
                id=self.scheduled_payment_id,
                kind=None,
                account_holder=None,
                payment_method=None,
                method=None,
                next_payment_at=None,
                amount=None,
                currency=None,
                active=False,
                state_at=self.state_at,
            )
        return replace(current, active=False, state_at=self.state_at)


type BillingChange = Organization | ScheduledPayment | ScheduledPaymentEnded


class BillingStore(Protocol):
    def organization(self, organization_id: str) -> Organization | None: ...

    def organizations(self, organization_ids: Sequence[str]) -> dict[str, Organization]:
        """The known ones among many, read in batches."""
        ...

    def scheduled_payment(
        self, organization_id: str, scheduled_payment_id: str
    ) -> ScheduledPayment | None: ...

    def apply(self, change: BillingChange, delivery: Delivery) -> None:
        """Write the change and the delivery marker atomically, unless the recorded state is
        newer than the change.

        Raises StoreConflict naming what failed ("state": a newer state is recorded;
        "delivery": this webhook-id took effect before), or DeliveryInFlight when a concurrent
        write of the same items won the race.
        """
        ...


def handle_billing_event(store: BillingStore, delivery: Delivery, body: dict[str, Any]) -> Result:
    """Validate and apply one verified event from the billing platform."""
    envelope = parse(Envelope, body)
    event_model = _EVENTS.get(envelope.type)
    if event_model is None:
        if envelope.type.startswith("card."):
            return Result(Outcome.IGNORED, "card events are not handled yet")
        return Result(Outcome.IGNORED, f"unknown event type {envelope.type}")
    change = parse(event_model, body).change()
    try:
        store.apply(change, delivery)
    except StoreConflict as conflict:
        if "delivery" in conflict.failed:
            # This webhook-id took effect before: answer as then, change nothing.
            return Result(Outcome.ACCEPTED, "delivery already processed")
        return Result(Outcome.IGNORED, f"stale: a state newer than {change.state_at} is recorded")
    return Result(Outcome.ACCEPTED)


# ------------------------------------------------------------------------ bodies on the wire

_HTTP_URL = TypeAdapter(AnyHttpUrl)
# The parser alone would take "https:host" or surrounding spaces and fix them up; the stored
# string must already be the absolute URL that is sent in emails and links.
_ABSOLUTE = re.compile(r"^https?://[^\x00-\x20\x7f/?#]+[^\x00-\x20\x7f]*$", re.IGNORECASE)
_MAX_URL = 2000


def _http_url(value: str) -> str:
    if len(value) > _MAX_URL or not _ABSOLUTE.fullmatch(value):
        raise ValueError("must be an absolute http(s) URL")
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError as error:
        raise ValueError(f"must be an absolute http(s) URL: {error.errors()[0]['msg']}") from None
    return value


def _url_template(value: str) -> str:
    """A URL once its placeholder is filled; the template itself is kept as sent."""
    _http_url(value.replace(HOLDER_PLACEHOLDER, "id"))
    return value


def _holder_url_template(value: str) -> str:
    if HOLDER_PLACEHOLDER not in value:
        raise ValueError(f"must contain {HOLDER_PLACEHOLDER}")
    return _url_template(value)


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _time_zone(value: str) -> str:
    # The list, not ZoneInfo(value): that also opens directories ("America") and paths.
    if value not in _time_zones():
        raise ValueError(f"{value!r} is not an IANA time zone")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
UrlTemplate = Annotated[str, AfterValidator(_url_template)]
HolderUrlTemplate = Annotated[str, AfterValidator(_holder_url_template)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
Locale = Literal["fr-CA", "en-CA"]


class OrganizationData(WireModel):
    organization_id: Id
    name: Name
    billing_contact_email: EmailStr
    locale: Locale
    time_zone: TimeZoneName
    console_url: HttpUrl
    upcoming_payments_url_template: HolderUrlTemplate
    client_url_template: HolderUrlTemplate
    card_update_url_template: UrlTemplate


class ScheduledPaymentData(WireModel):
    organization_id: Id
    scheduled_payment_id: Id
    kind: Literal["installment", "subscription"]
    account_holder: AccountHolderIn
    payment_method: PaymentMethodIn
    method: Method
    next_payment_at: Instant
    amount: Amount
    currency: Currency


class ScheduledPaymentRef(WireModel):
    organization_id: Id
    scheduled_payment_id: Id


class BillingEvent(WireModel):
    occurred_at: Instant

    def change(self) -> BillingChange:
        raise NotImplementedError


class OrganizationUpserted(BillingEvent):
    data: OrganizationData

    def change(self) -> Organization:
        data = self.data
        return Organization(
            id=data.organization_id,
            name=data.name,
            billing_contact_email=str(data.billing_contact_email),
            locale=data.locale,
            time_zone=data.time_zone,
            console_url=data.console_url,
            upcoming_payments_url_template=data.upcoming_payments_url_template,
            client_url_template=data.client_url_template,
            card_update_url_template=data.card_update_url_template,
            state_at=self.occurred_at,
        )


class ScheduledPaymentUpserted(BillingEvent):
    data: ScheduledPaymentData

    def change(self) -> ScheduledPayment:
        data = self.data
        return ScheduledPayment(
            organization_id=data.organization_id,
            id=data.scheduled_payment_id,
            kind=PaymentKind(data.kind),
            account_holder=data.account_holder.domain(),
            payment_method=data.payment_method.domain(),
            method=data.method,
            next_payment_at=data.next_payment_at,
            amount=data.amount,
            currency=data.currency,
            active=True,
            state_at=self.occurred_at,
        )


class ScheduledPaymentEndedEvent(BillingEvent):
    data: ScheduledPaymentRef

    def change(self) -> ScheduledPaymentEnded:
        return ScheduledPaymentEnded(
            self.data.organization_id, self.data.scheduled_payment_id, self.occurred_at
        )


_EVENTS: dict[str, type[BillingEvent]] = {
    "organization.upserted": OrganizationUpserted,
    "scheduled_payment.upserted": ScheduledPaymentUpserted,
    "scheduled_payment.ended": ScheduledPaymentEndedEvent,
}
