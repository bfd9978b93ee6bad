"""Cards on DynamoDB Local: the CardsByExpiry maintenance and the expiring read against AWS's
own engine (real GSI, real conditions), and what the read costs with many cards: seeded and
counted by bench/seeding.py, the module `make bench` measures the same read with."""

from typing import Any

import pytest

from bench.counts import counting
from bench.seeding import AT, a_card, seed, seed_many
from payment_action_center.adapters.dynamodb import keys
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
    cards_of_many_organizations,
    link,
    race_after_read,
    upsert_card,
)


@pytest.fixture
def store(dynamodb: tuple[Any, str]) -> DynamoBillingStore:
    client, table = dynamodb
    return DynamoBillingStore(client, table)


class TestExpiringCardsOnDynamoDBLocal(ExpiringCardsContract):
    pass


def shard_of(organization_id: str) -> str:
    return keys.shard(organization_id, keys.EXPIRY_SHARDS)


def test_the_month_is_read_for_its_qualifying_cards_not_all_cards(
    store: DynamoBillingStore, dynamodb: tuple[Any, str]
) -> None:
    """The scan's read (the organizations) and each organization's listing touch the month's
    qualifying cards only, with 4,950 other cards in the table."""
    client, table = dynamodb
    expected = seed_many(client, table, total=5000, qualifying=50)
    with counting(client) as scan:
        organizations = store.organizations_expiring("2026-12")
    assert sorted(organizations) == ["org_demo", "org_other"]
    # One Query per CardsByExpiry shard (keys.py), keys only, most of them empty; no card read
    # again: the 50 index entries, nothing else.
    assert dict(scan.calls) == {"Query": keys.EXPIRY_SHARDS}
    assert scan.scanned == 50 and scan.keys_read == 0
    found: list[str] = []
    with counting(client) as listing:
        for organization in organizations:
            after = None
            while True:
                page = store.expiring(organization, "2026-12", 100, after)
                found += [c.card_id for c in page.items]
                assert all(len(c.scheduled_payments) == 1 for c in page.items)
                if page.next is None:
                    break
                after = page.next
    assert set(found) == expected and len(found) == 50
    # Per organization one Query on its shard, its 25 cards read again and their 25 schedules:
    # about 50 of each, not 5,000.
    assert listing.calls["Query"] == 2 and listing.calls["BatchGetItem"] == 4
    assert listing.scanned <= 52
    assert listing.keys_read <= 2 * 52
    print(f"\n5,000 cards, 50 qualifying: scan {scan}, listing {listing}")


def test_one_organization_is_read_with_one_query_on_its_own_shard(
    store: DynamoBillingStore, dynamodb: tuple[Any, str]
) -> None:
    client, _ = dynamodb
    cards = cards_of_many_organizations(store, 20)
    partitions: list[str] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **_: partitions.append(params["ExpressionAttributeValues"][":epk"]["S"]),
    )
    page = store.expiring("org_many_07", "2026-12", 10, None)
    assert [c.card_id for c in page.items] == [c for o, c in cards if o == "org_many_07"]
    assert page.next is None
    assert partitions == [f"EXPIRY#2026-12#{shard_of('org_many_07')}"]


def test_a_qualifying_card_is_indexed_on_its_organizations_shard(
    store: DynamoBillingStore, dynamodb: tuple[Any, str]
) -> None:
    client, table = dynamodb
    upsert_card(store, "card_s", T1, data__organization_id="org_other")
    link(store, "sp_s", "card_s", T1, data__organization_id="org_other")
    item = client.get_item(
        TableName=table, Key={"pk": {"S": "ORG#org_other"}, "sk": {"S": "CARD#card_s"}}
    )["Item"]
    assert (item["expiry_pk"]["S"], item["expiry_sk"]["S"]) == (
        "EXPIRY#2026-12#02",  # zlib.crc32(b"org_other") % 16
        "org_other#card_s",
    )


def test_the_scan_reads_every_shard_once_keys_only(
    store: DynamoBillingStore, dynamodb: tuple[Any, str]
) -> None:
    client, _ = dynamodb
    cards = cards_of_many_organizations(store, 20)
    queried: list[tuple[str, ...]] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **_: queried.append(
            # The partition queried, and the one attribute projected (its name resolved).
            (
                *(v["S"] for v in params["ExpressionAttributeValues"].values()),
                params["ExpressionAttributeNames"][params["ProjectionExpression"]],
            )
        ),
    )
    found = store.organizations_expiring("2026-12")
    every = [f"EXPIRY#2026-12#{s}" for s in keys.every_shard(keys.EXPIRY_SHARDS)]
    assert queried == [(partition, keys.EXPIRY_SK) for partition in every]
    # Shard order, then organization: each organization once.
    assert found == sorted({o for o, _ in cards}, key=lambda o: (shard_of(o), o))


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
