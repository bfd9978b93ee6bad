"""Billing-platform events (docs/contract.md §4.1): what validates, what is ignored, and the store
contract on the in-memory fake (on DynamoDB Local: tests/integration/test_billing_store.py)."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.http.billing_webhook import handle_billing_event
from payment_action_center.app.results import Outcome
from payment_action_center.domain.billing import Organization, ScheduledPayment
from payment_action_center.domain.errors import DeliveryInFlight
from payment_action_center.ports import StoreConflict
from tests.shared import factories
from tests.shared.billing_contract import BillingStoreContract, refusal
from tests.shared.fakes import InMemoryBillingStore
from tests.shared.moto_aws import TABLE


class TestInMemoryBillingStore(BillingStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryBillingStore:
        return InMemoryBillingStore()


org = factories.organization_upserted
payment = factories.scheduled_payment_upserted

INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "locale en-US": (org(data__locale="en-US"), "data.locale"),
    "locale fr": (org(data__locale="fr"), "data.locale"),
    "unknown time zone": (org(data__time_zone="America/Atlantis"), "data.time_zone"),
    "time zone as a path": (org(data__time_zone="../../etc/passwd"), "data.time_zone"),
    "time zone a directory": (org(data__time_zone="America"), "data.time_zone"),
    "empty time zone": (org(data__time_zone=""), "data.time_zone"),
    "upcoming payments template without the placeholder": (
        org(data__upcoming_payments_url_template="https://p.example/clients/upcoming"),
        "data.upcoming_payments_url_template",
    ),
    "client template with another placeholder": (
        org(data__client_url_template="https://p.example/clients/{holder_id}"),
        "data.client_url_template",
    ),
    "billing contact not an email": (
        org(data__billing_contact_email="facturation"),
        "data.billing_contact_email",
    ),
    "console url by ftp": (org(data__console_url="ftp://p.example/centre"), "data.console_url"),
    "console url relative": (org(data__console_url="/centre"), "data.console_url"),
    "console url javascript": (org(data__console_url="javascript:alert(1)"), "data.console_url"),
    "console url without //": (org(data__console_url="https:p.example"), "data.console_url"),
    "console url with a space": (
        org(data__console_url="https://p.example/centre actions"),
        "data.console_url",
    ),
    "card update template not http": (
        org(data__card_update_url_template="mailto:{account_holder_id}@p.example"),
        "data.card_update_url_template",
    ),
    "upcoming payments template not http": (
        org(data__upcoming_payments_url_template="p.example/{account_holder_id}"),
        "data.upcoming_payments_url_template",
    ),
    "organization id with a separator": (
        org(data__organization_id="org#1"),
        "data.organization_id",
    ),
    "amount 0": (payment(data__amount=0), "data.amount"),
    "amount 12.5": (payment(data__amount=12.5), "data.amount"),
    "amount as a string": (payment(data__amount="7500"), "data.amount"),
    "amount negative": (payment(data__amount=-1), "data.amount"),
    "currency cad": (payment(data__currency="cad"), "data.currency"),
    "currency of two letters": (payment(data__currency="CA"), "data.currency"),
    "kind one_time": (payment(data__kind="one_time"), "data.kind"),
    "kind layaway": (payment(data__kind="layaway"), "data.kind"),
    "method cash": (payment(data__method="cash"), "data.method"),
    "holder email": (payment(data__account_holder__email="noah"), "data.account_holder.email"),
    "payment method without a token": (
        payment(data__payment_method={"card_id": "card_1"}),
        "data.payment_method.token",
    ),
    "next payment without a time zone": (
        payment(data__next_payment_at="2026-12-01T09:00:00"),
        "data.next_payment_at",
    ),
    "next payment a date": (payment(data__next_payment_at="2026-12-01"), "data.next_payment_at"),
    "occurred_at not RFC 3339": (
        factories.scheduled_payment_ended(occurred_at="yesterday"),
        "occurred_at",
    ),
    # Digits of other scripts are digits to a Unicode \d, but not a card's last four.
    "last4 in Arabic-Indic digits": (
        factories.card_upserted(data__last4="\u0664\u0662\u0664\u0662"),
        "data.last4",
    ),
    "last4 in full-width digits": (
        factories.card_upserted(data__last4="\uff14\uff12\uff14\uff12"),
        "data.last4",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_billing_event_is_refused_with_its_reason(case: str) -> None:
    body, field = INVALID[case]
    assert field in refusal(body)


REQUIRED = {
    "organization.upserted": (
        org,
        [
            "organization_id",
            "name",
            "billing_contact_email",
            "locale",
            "time_zone",
            "console_url",
            "upcoming_payments_url_template",
            "client_url_template",
            "card_update_url_template",
        ],
    ),
    "scheduled_payment.upserted": (
        payment,
        [
            "organization_id",
            "scheduled_payment_id",
            "kind",
            "account_holder",
            "payment_method",
            "method",
            "next_payment_at",
            "amount",
            "currency",
        ],
    ),
    "scheduled_payment.ended": (
        factories.scheduled_payment_ended,
        ["organization_id", "scheduled_payment_id"],
    ),
}


@pytest.mark.parametrize(
    ("event_type", "field"),
    [(event_type, field) for event_type, (_, fields) in REQUIRED.items() for field in fields],
)
def test_a_missing_required_field_is_refused(event_type: str, field: str) -> None:
    body = REQUIRED[event_type][0]()
    del body["data"][field]
    assert f"data.{field}" in refusal(body)


def test_a_missing_occurred_at_is_refused() -> None:
    body = org()
    del body["occurred_at"]
    assert "occurred_at" in refusal(body)


def test_unknown_types_are_ignored() -> None:
    store = InMemoryBillingStore()
    body = {"type": "customer.created", "occurred_at": "2026-11-20T12:00:00Z", "data": {}}
    result = handle_billing_event(store, factories.billing_delivery(), body)
    assert result.outcome is Outcome.IGNORED
    assert store == InMemoryBillingStore()


def test_a_stale_event_says_why_it_was_ignored() -> None:
    store = InMemoryBillingStore()
    handle_billing_event(
        store, factories.billing_delivery(), org(occurred_at="2026-11-22T00:00:00Z")
    )
    result = handle_billing_event(store, factories.billing_delivery(), org())
    assert result.outcome is Outcome.IGNORED
    assert result.reason is not None and "stale" in result.reason


def organization(template: str) -> Organization:
    return Organization(
        id="org_demo",
        name="Centre",
        billing_contact_email="facturation@centre.example",
        locale="en-CA",
        time_zone="America/Toronto",
        console_url="https://p.example/console",
        upcoming_payments_url_template=template,
        client_url_template="https://p.example/clients/{account_holder_id}",
        card_update_url_template="https://p.example/cards",
        state_at="2026-11-20T12:00:00.000000000Z",
    )


def test_upcoming_payments_url_quotes_the_account_holder_id() -> None:
    settings = organization("https://p.example/clients/{account_holder_id}/upcoming?tab=1")
    assert (
        settings.upcoming_payments_url("ah 1/é?x#y&z")
        == "https://p.example/clients/ah%201%2F%C3%A9%3Fx%23y%26z/upcoming?tab=1"
    )
    assert settings.upcoming_payments_url("ah_1") == "https://p.example/clients/ah_1/upcoming?tab=1"


def test_url_templates_are_kept_as_sent() -> None:
    store = InMemoryBillingStore()
    template = "https://p.example/c/{account_holder_id}/paiements-à-venir?x={account_holder_id}"
    body = org(data__upcoming_payments_url_template=template)
    handle_billing_event(store, factories.billing_delivery(), body)
    settings = store.organization("org_demo")
    assert isinstance(settings, Organization)
    assert settings.upcoming_payments_url_template == template
    assert settings.upcoming_payments_url("a/b") == (
        "https://p.example/c/a%2Fb/paiements-à-venir?x=a%2Fb"
    )


def test_a_scheduled_payment_is_an_installment_or_a_subscription() -> None:
    store = InMemoryBillingStore()
    handle_billing_event(
        store,
        factories.billing_delivery(),
        payment(data__scheduled_payment_id="sp_sub", data__kind="subscription"),
    )
    saved = store.scheduled_payment("org_demo", "sp_sub")
    assert isinstance(saved, ScheduledPayment)
    assert saved.kind is not None and saved.kind.value == "subscription"


# -------------------------------------------- the DynamoDB adapter's reading of cancellations


class CancellingClient:
    """A DynamoDB client whose transactions are cancelled with the given reasons."""

    def __init__(self, *codes: str) -> None:
        self.codes = codes

    def transact_write_items(self, **_: Any) -> None:
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                "CancellationReasons": [{"Code": code} for code in self.codes],
            },
            "TransactWriteItems",
        )


def test_a_concurrent_write_of_the_same_items_is_in_flight() -> None:
    store = DynamoBillingStore(CancellingClient("TransactionConflict", "None"), TABLE)
    with pytest.raises(DeliveryInFlight):
        handle_billing_event(store, factories.billing_delivery(), org())


@pytest.mark.parametrize(
    ("codes", "failed"),
    [
        (("ConditionalCheckFailed", "None"), {"state"}),
        (("None", "ConditionalCheckFailed"), {"delivery"}),
        (("ConditionalCheckFailed", "ConditionalCheckFailed"), {"state", "delivery"}),
    ],
)
def test_failed_conditions_are_named_by_their_role(
    codes: tuple[str, str], failed: set[str]
) -> None:
    store = DynamoBillingStore(CancellingClient(*codes), TABLE)
    with pytest.raises(StoreConflict) as conflict:
        store.save_organization(
            organization("https://p.example/{account_holder_id}"), factories.billing_delivery()
        )
    assert conflict.value.failed == failed
