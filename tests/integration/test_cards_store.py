"""Cards on DynamoDB Local: the CardsByExpiry maintenance and the expiring read against AWS's
own engine (real GSI, real conditions), and what the read costs with many cards."""

from typing import Any

import pytest

from payment_action_center.adapters.dynamodb.billing_store import (
    DynamoBillingStore,
    card_item,
    scheduled_payment_item,
)
from payment_action_center.adapters.dynamodb.store import to_attributes
from payment_action_center.adapters.http.billing_webhook import handle_billing_event
from payment_action_center.app.results import Outcome
from payment_action_center.domain.billing import Card, CardRecord, ScheduledPayment
from payment_action_center.domain.entries import AccountHolder, Method, PaymentKind, PaymentMethod
from payment_action_center.domain.errors import DeliveryInFlight
from tests.shared import factories
from tests.shared.billing_contract import T1, T2, ExpiringCardsContract, link, upsert_card

AT = "2026-11-20T12:00:00.000000000Z"


@pytest.fixture
def store(dynamodb: tuple[Any, str]) -> DynamoBillingStore:
    client, table = dynamodb
    return DynamoBillingStore(client, table)


class TestExpiringCardsOnDynamoDBLocal(ExpiringCardsContract):
    pass


def seed(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """batch_write_item, 25 a request, unprocessed items sent again."""
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": to_attributes(i)}} for i in items[start : start + 25]]
        while requests:
            answer = client.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])


def a_card(org: str, n: int, *, month: int, year: int, in_wallet: bool) -> Card:
    return Card(
        organization_id=org,
        id=f"card_{n:05d}",
        account_holder=AccountHolder(f"ah_{n}", f"Holder {n}", f"h{n}@example.com"),
        brand="visa",
        last4=f"{n % 10000:04d}",
        exp_month=month,
        exp_year=year,
        in_wallet=in_wallet,
        deleted=False,
        state_at=AT,
    )


def a_schedule(org: str, n: int, card_id: str) -> ScheduledPayment:
    return ScheduledPayment(
        organization_id=org,
        id=f"sp_{n:05d}",
        kind=PaymentKind.INSTALLMENT,
        account_holder=AccountHolder(f"ah_{n}", f"Holder {n}", f"h{n}@example.com"),
        payment_method=PaymentMethod("tok_success", card_id),
        method=Method.CREDIT_CARD,
        next_payment_at="2026-12-05T14:00:00.000000000Z",
        amount=5000,
        currency="CAD",
        active=True,
        state_at=AT,
    )


def seed_many(client: Any, table: str, total: int, qualifying: int) -> set[str]:
    """`total` cards in two organizations; `qualifying` of them are wallet cards expiring in
    December 2026 with an active schedule. The rest: December but out of the wallet and linked,
    December in the wallet but unlinked, or other months and linked. Returns the qualifying
    ids. Items are built by the functions the store writes with."""
    items: list[dict[str, Any]] = []
    expected: set[str] = set()
    for n in range(total):
        org = "org_demo" if n % 2 == 0 else "org_other"
        kind = "qualifies" if n < qualifying else ("out", "unlinked", "other_month")[n % 3]
        card = a_card(
            org,
            n,
            month=12 if kind != "other_month" else 1 + n % 11,
            year=2026,
            in_wallet=kind != "out",
        )
        links: frozenset[str] = frozenset()
        if kind != "unlinked":
            schedule = a_schedule(org, n, card.id)
            links = frozenset({schedule.id})
            items.append(scheduled_payment_item(schedule, AT) | {"version": 1})
        items.append(card_item(CardRecord(org, card.id, card, links, 1), AT))
        if kind == "qualifies":
            expected.add(card.id)
    seed(client, table, items)
    return expected


def count_reads(client: Any) -> dict[str, int]:
    counts = {"requests": 0, "query_scanned": 0, "batch_get_keys": 0}

    def after_query(parsed: dict[str, Any], **_: Any) -> None:
        counts["requests"] += 1
        counts["query_scanned"] += parsed.get("ScannedCount", 0)

    def batch_get(params: dict[str, Any], **_: Any) -> None:
        counts["requests"] += 1
        counts["batch_get_keys"] += sum(len(t["Keys"]) for t in params["RequestItems"].values())

    client.meta.events.register("after-call.dynamodb.Query", after_query)
    client.meta.events.register("provide-client-params.dynamodb.BatchGetItem", batch_get)
    return counts


def test_the_read_touches_the_qualifying_cards_not_all_cards(
    store: DynamoBillingStore, dynamodb: tuple[Any, str]
) -> None:
    client, table = dynamodb
    expected = seed_many(client, table, total=5000, qualifying=50)
    counts = count_reads(client)
    found: list[str] = []
    after = None
    while True:
        page = store.expiring(None, "2026-12", 100, after)
        found += [c.card_id for c in page.items]
        assert all(len(c.scheduled_payments) == 1 for c in page.items)
        if page.next is None:
            break
        after = page.next
    assert set(found) == expected and len(found) == 50
    # 50 index items scanned, 50 cards read again, 50 schedules: about 50 of each, not 5,000.
    assert counts["query_scanned"] <= 51
    assert counts["batch_get_keys"] <= 2 * 51
    assert counts["requests"] <= 4
    print(f"\n5,000 cards, 50 qualifying: {counts}")

    counts.update(requests=0, query_scanned=0, batch_get_keys=0)
    demo = store.expiring("org_demo", "2026-12", 100, None)
    assert len(demo.items) == 25
    assert counts["query_scanned"] <= 26


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
    original = store._read
    raced: list[bool] = []

    def read_then_race(change: Any) -> Any:
        read = original(change)
        if not raced:
            raced.append(True)
            link(other, "sp_concurrent", "card_race", T1)
        return read

    monkeypatch.setattr(store, "_read", read_then_race)
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
