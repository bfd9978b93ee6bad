"""Cards (docs/contract.md §1): card.upserted / card.deleted validation, the CardsByExpiry
maintenance and the expiring read on the in-memory fake (on DynamoDB Local:
tests/integration/test_cards_store.py), next_month, and lost races."""

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.http.billing_webhook import handle_billing_event
from payment_action_center.app.results import Outcome
from payment_action_center.domain.cards import next_month
from payment_action_center.domain.errors import DeliveryInFlight
from tests.shared import factories
from tests.shared.billing_contract import (
    T1,
    T2,
    ExpiringCardsContract,
    link,
    listed,
    race_after_read,
    refusal,
    upsert_card,
)
from tests.shared.fakes import InMemoryBillingStore
from tests.shared.moto_aws import TABLE


class TestExpiringCardsInMemory(ExpiringCardsContract):
    @pytest.fixture
    def store(self) -> InMemoryBillingStore:
        return InMemoryBillingStore()


# ---------------------------------------------------------------------------- bad input: 400

card = factories.card_upserted


INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "exp_month 0": (card(data__exp_month=0), "data.exp_month"),
    "exp_month 13": (card(data__exp_month=13), "data.exp_month"),
    "exp_month as a string": (card(data__exp_month="12"), "data.exp_month"),
    "exp_month 12.0": (card(data__exp_month=12.0), "data.exp_month"),
    "exp_month true": (card(data__exp_month=True), "data.exp_month"),
    "two-digit year": (card(data__exp_year=26), "data.exp_year"),
    "five-digit year": (card(data__exp_year=20260), "data.exp_year"),
    "year as a string": (card(data__exp_year="2026"), "data.exp_year"),
    "in_wallet as a string": (card(data__in_wallet="true"), "data.in_wallet"),
    "in_wallet 1": (card(data__in_wallet=1), "data.in_wallet"),
    "last4 of three digits": (card(data__last4="424"), "data.last4"),
    "last4 with letters": (card(data__last4="42a2"), "data.last4"),
    "empty brand": (card(data__brand=""), "data.brand"),
    "holder null": (card(data__account_holder=None), "data.account_holder"),
    "holder email": (card(data__account_holder__email="eloise"), "data.account_holder.email"),
    "holder without a name": (
        card(data__account_holder={"id": "ah_1", "email": "e@example.com"}),
        "data.account_holder.name",
    ),
    "card id with a separator": (card(data__card_id="card#1"), "data.card_id"),
    "deleted card id with a separator": (
        factories.card_deleted(data__card_id="card#1"),
        "data.card_id",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_card_event_is_refused_with_its_reason(case: str) -> None:
    body, field = INVALID[case]
    assert field in refusal(body)


@pytest.mark.parametrize(
    "field",
    [
        "organization_id",
        "card_id",
        "account_holder",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "in_wallet",
    ],
)
def test_a_card_upserted_missing_a_field_is_refused(field: str) -> None:
    body = card()
    del body["data"][field]
    assert f"data.{field}" in refusal(body)


@pytest.mark.parametrize("field", ["organization_id", "card_id"])
def test_a_card_deleted_missing_a_field_is_refused(field: str) -> None:
    body = factories.card_deleted()
    del body["data"][field]
    assert f"data.{field}" in refusal(body)


def test_card_events_apply() -> None:
    store = InMemoryBillingStore()
    up = handle_billing_event(store, factories.billing_delivery(), card(data__card_id="c1"))
    assert up.outcome is Outcome.ACCEPTED
    gone = handle_billing_event(
        store, factories.billing_delivery(), factories.card_deleted(data__card_id="c1")
    )
    assert gone.outcome is Outcome.ACCEPTED
    record = store.card("org_demo", "c1")
    assert record is not None and record.card is not None and record.card.deleted


def test_a_stale_card_event_says_why_it_was_ignored() -> None:
    store = InMemoryBillingStore()
    upsert_card(store, "c_stale", T2)
    result = handle_billing_event(
        store, factories.billing_delivery(), card(occurred_at=T1, data__card_id="c_stale")
    )
    assert result.outcome is Outcome.IGNORED
    assert result.reason is not None and "stale" in result.reason


# ------------------------------------------------------------------------------ next_month


@pytest.mark.parametrize(
    ("now", "zone", "month"),
    [
        ("2026-11-15T12:00:00+00:00", "America/Toronto", "2026-12"),
        ("2026-12-15T12:00:00+00:00", "America/Toronto", "2027-01"),
        ("2026-12-31T23:59:59+00:00", "UTC", "2027-01"),
        # 1 January 03:00 UTC is still 31 December in Toronto: next month is January.
        ("2027-01-01T03:00:00+00:00", "America/Toronto", "2027-01"),
        ("2027-01-01T05:00:00+00:00", "America/Toronto", "2027-02"),
        # 30 November 23:30 in Vancouver is 1 December UTC.
        ("2026-12-01T07:30:00+00:00", "America/Vancouver", "2026-12"),
        ("2026-01-31T12:00:00+00:00", "America/Montreal", "2026-02"),
    ],
)
def test_next_month_is_in_the_organizations_time_zone(now: str, zone: str, month: str) -> None:
    assert next_month(datetime.fromisoformat(now), zone) == month


def test_next_month_wants_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_month(datetime(2026, 12, 1), "UTC")
    assert next_month(datetime(2026, 12, 1, tzinfo=UTC), "UTC") == "2027-01"


# --------------------------------------------------------------------- the index on moto


def test_only_a_qualifying_card_item_carries_the_index_keys(aws: dict[str, str]) -> None:
    client = boto3.client("dynamodb")
    store = DynamoBillingStore(client, TABLE)
    upsert_card(store, "card_in", T1)
    upsert_card(store, "card_out", T1, data__in_wallet=False)
    link(store, "sp_in", "card_in", T1)
    link(store, "sp_out", "card_out", T1)
    link(store, "sp_stub", "card_stub", T1)
    items = {i["sk"]["S"]: i for i in client.scan(TableName=TABLE)["Items"]}
    assert items["CARD#card_in"]["expiry_pk"] == {"S": "EXPIRY#2026-12#08"}  # org_demo's shard
    assert items["CARD#card_in"]["expiry_sk"] == {"S": "org_demo#card_in"}
    assert items["CARD#card_in"]["linked_schedules"] == {"SS": ["sp_in"]}
    for sk in ("CARD#card_out", "CARD#card_stub"):
        assert "expiry_pk" not in items[sk] and "expiry_sk" not in items[sk]
    link(store, "sp_in", None, T2)
    item = client.get_item(
        TableName=TABLE, Key={"pk": {"S": "ORG#org_demo"}, "sk": {"S": "CARD#card_in"}}
    )
    assert "expiry_pk" not in item["Item"] and "linked_schedules" not in item["Item"]


def test_a_card_changed_between_read_and_write_is_a_delivery_in_flight(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read-modify-write: the transaction is conditioned on the versions read. A concurrent
    change in between makes it fail as a 409 (the sender retries); nothing is half-written."""
    store = DynamoBillingStore(boto3.client("dynamodb"), TABLE)
    other = DynamoBillingStore(boto3.client("dynamodb"), TABLE)
    upsert_card(store, "card_race", T1)
    race_after_read(monkeypatch, store, other)
    body = factories.scheduled_payment_upserted(
        occurred_at=T2,
        data__scheduled_payment_id="sp_mine",
        data__payment_method={"token": "t", "card_id": "card_race"},
    )
    with pytest.raises(DeliveryInFlight):
        handle_billing_event(store, factories.billing_delivery("msg_race"), body)
    assert store.scheduled_payment("org_demo", "sp_mine") is None
    assert listed(store) == ["card_race"]
    # The sender retries the same delivery: it applies now, with both links kept.
    result = handle_billing_event(store, factories.billing_delivery("msg_race"), body)
    assert result.outcome is Outcome.ACCEPTED
    record = store.card("org_demo", "card_race")
    assert record is not None
    assert record.linked_schedules == {"sp_concurrent", "sp_mine"}
