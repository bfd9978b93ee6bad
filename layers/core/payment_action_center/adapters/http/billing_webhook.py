"""The billing platform's webhook (docs/contract.md §4.1): its bodies as pydantic models (validation
is the schema, and the generated `webhooks` of openapi.json), each read into a change of the state
kept in payment_action_center/domain/billing.py and applied by app/billing_events.py.
"""

import re
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    EmailStr,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from payment_action_center.adapters.http.payment_webhook import (
    AccountHolderIn,
    Amount,
    Currency,
    Id,
    Instant,
    Name,
    PaymentMethodIn,
    WireModel,
    envelope_of,
    parse,
)
from payment_action_center.app import billing_events
from payment_action_center.app.results import Result, unknown_type
from payment_action_center.domain.billing import (
    HOLDER_PLACEHOLDER,
    BillingChange,
    Card,
    CardDeleted,
    Organization,
    ScheduledPayment,
    ScheduledPaymentEnded,
)
from payment_action_center.domain.entries import Locale, Method, PaymentKind
from payment_action_center.ports import BillingStore, Delivery


def handle_billing_event(store: BillingStore, delivery: Delivery, body: dict[str, Any]) -> Result:
    """Validate one verified body from the billing platform and apply the change it carries."""
    envelope = envelope_of(body, delivery)
    event_model = BILLING_EVENTS.get(envelope.type)
    if event_model is None:
        return unknown_type(envelope.type, BILLING_EVENTS)
    change = parse(event_model, body).change()
    return billing_events.apply_billing_change(store, delivery, change)


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
# A Stripe Connect account id, as Stripe spells it.
ProcessorAccountId = Annotated[str, StringConstraints(pattern=r"^acct_[A-Za-z0-9]{1,64}$")]


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
    processor_account_id: ProcessorAccountId | None = None


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


ExpMonth = Annotated[int, Strict(), Field(ge=1, le=12)]
# Four digits: 26 for 2026 is refused, not guessed.
ExpYear = Annotated[int, Strict(), Field(ge=1000, le=9999)]
Last4 = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
Brand = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class CardData(WireModel):
    organization_id: Id
    card_id: Id
    account_holder: AccountHolderIn
    brand: Brand
    last4: Last4
    exp_month: ExpMonth
    exp_year: ExpYear
    in_wallet: Annotated[bool, Strict()]


class CardRef(WireModel):
    organization_id: Id
    card_id: Id


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
            processor_account_id=data.processor_account_id,
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


class CardUpserted(BillingEvent):
    data: CardData

    def change(self) -> Card:
        data = self.data
        return Card(
            organization_id=data.organization_id,
            id=data.card_id,
            account_holder=data.account_holder.domain(),
            brand=data.brand,
            last4=data.last4,
            exp_month=data.exp_month,
            exp_year=data.exp_year,
            in_wallet=data.in_wallet,
            deleted=False,
            state_at=self.occurred_at,
        )


class CardDeletedEvent(BillingEvent):
    data: CardRef

    def change(self) -> CardDeleted:
        return CardDeleted(self.data.organization_id, self.data.card_id, self.occurred_at)


BILLING_EVENTS: dict[str, type[BillingEvent]] = {
    "card.upserted": CardUpserted,
    "card.deleted": CardDeletedEvent,
    "organization.upserted": OrganizationUpserted,
    "scheduled_payment.upserted": ScheduledPaymentUpserted,
    "scheduled_payment.ended": ScheduledPaymentEndedEvent,
}
