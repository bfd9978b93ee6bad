"""Cards on DynamoDB Local: the CardsByExpiry maintenance and the expiring read against AWS's
own engine (real GSI, real conditions), and what the read costs with many cards: seeded and
counted by bench/seeding.py, the module `make bench` measures the same read with."""

from typing import Any

import pytest

from bench.counts import counting
from bench.seeding import AT, a_card, seed, seed_many
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore, card_item
from payment_action_center.adapters.http.billing_webhook import handle_billing_event
from payment_action_center.app.results import Outcome
from payment_action_center.domain.billing import CardRecord
from payment_action_center.domain.errors import DeliveryInFlight
from tests.shared import factories
from tests.shared.billing_contract import (
    T1,
    T2,
    ExpiringCardsContract,
    race_after_read,
    upsert_card,
)


@pytest.fixture
def store(dynamodb: tuple[Any, str]) -> DynamoBillingStore:
    client, table = dynamodb
    return DynamoBillingStore(client, table)


class TestExpiringCardsOnDynamoDBLocal(ExpiringCardsContract):
    pass


def test_the_read_touches_the_qualifying_cards_not_all_cards(
    store: DynamoBillingStore, dynamodb: tuple[Any, str]
) -> None:
    client, table = dynamodb
    expected = seed_many(client, table, total=5000, qualifying=50)
    found: list[str] = []
    after = None
    with counting(client) as counts:
        while True:
            page = store.expiring(None, "2026-12", 100, after)
            found += [c.card_id for c in page.items]
            assert all(len(c.scheduled_payments) == 1 for c in page.items)
            if page.next is None:
                break
            after = page.next
    assert set(found) == expected and len(found) == 50
    # 50 index items scanned, 50 cards read again, 50 schedules: about 50 of each, not 5,000.
    assert counts.scanned <= 51
    assert counts.keys_read <= 2 * 51
    assert counts.requests <= 4
    print(f"\n5,000 cards, 50 qualifying: {counts}")

    with counting(client) as counts:
        demo = store.expiring("org_demo", "2026-12", 100, None)
    assert len(demo.items) == 25
    assert counts.scanned <= 26


def test_a_card_that_stopped_qualifying_is_dropped_though_the_index_still_has_it(
    store: DynamoBillingStore, dynamodb: tuple[Any, str]
) -> None:
    """The index is eventually consistent: the base items are read again, so a card that no
    longer qualifies is not listed even if its index entry lingers (simulated by writing a
    stale index entry directly)."""
    client, table = dynamodb
    card = a_card("org_demo", 1, month=12, year=2026, in_wallet=True)
    lingering = card_item(CardRecord("org_demo", card.id, card, frozenset({"sp_gone"}), 1), AT)
    # The base item says "not in the wallet", yet keeps the index keys, as a lagging GSI would.
    lingering |= {"in_wallet": False}
    seed(client, table, [lingering])
    assert store.expiring("org_demo", "2026-12", 10, None).items == []


def test_a_card_changed_between_read_and_write_is_a_delivery_in_flight(
    store: DynamoBillingStore, dynamodb: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version conditions on the real engine: a concurrent link between the read and the
    transaction fails it as DeliveryInFlight (409); the retried delivery then applies."""
    client, table = dynamodb
    other = DynamoBillingStore(client, table)
    upsert_card(store, "card_race", T1)
    race_after_read(monkeypatch, store, other)
    body = factories.card_upserted(occurred_at=T2, data__card_id="card_race", data__last4="1111")
    with pytest.raises(DeliveryInFlight):
        handle_billing_event(store, factories.billing_delivery("msg_race"), body)
    record = store.card("org_demo", "card_race")
    assert record is not None and record.card is not None and record.card.last4 == "4242"
    result = handle_billing_event(store, factories.billing_delivery("msg_race"), body)
    assert result.outcome is Outcome.ACCEPTED
    record = store.card("org_demo", "card_race")
    assert record is not None and record.card is not None
    assert (record.card.last4, record.linked_schedules) == ("1111", {"sp_concurrent"})
    assert [c.last4 for c in store.expiring("org_demo", "2026-12", 10, None).items] == ["1111"]
