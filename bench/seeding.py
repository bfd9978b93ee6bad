"""Many cards on a DynamoDB table, and a count of what a read costs: the expiring-cards
benchmark (bench/__main__.py) and its integration test (tests/integration/test_cards_store.py)
measure the same thing, so they seed and count with this one module. It lives in bench/ because
bench imports no test module; a test may import it."""

from typing import Any

from payment_action_center.adapters.dynamodb.billing_store import card_item, scheduled_payment_item
from payment_action_center.adapters.dynamodb.store import to_attributes
from payment_action_center.domain.billing import Card, CardRecord, ScheduledPayment
from payment_action_center.domain.entries import AccountHolder, Method, PaymentKind, PaymentMethod

AT = "2026-11-20T12:00:00.000000000Z"


def seed(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """batch_write_item, 25 a request, unprocessed items sent again: writing items directly is
    what makes 100,000 cards take minutes instead of hours of webhooks."""
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": to_attributes(i)}} for i in items[start : start + 25]]
        while requests:
            answer = client.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])


def a_card(org: str, n: int, *, month: int, year: int, in_wallet: bool) -> Card:
    """Card number `n`: ids and last4 derived from `n`, so a seeded table is the same each run."""
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
    """An active installment paid by `card_id`: what makes a wallet card count as expiring."""
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
    """Counts, from now on, the read requests the client sends and the items they touch (items
    a Query scanned, keys a BatchGetItem asked for): the cost of a read in numbers that do not
    depend on the machine (docs/contract.md §6). Reset by updating the returned dict."""
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
