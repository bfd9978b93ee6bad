"""Recovery figures against a scripted month of failures, retries and dismissals (exact numbers):
the counters written by the entry store's transactions on moto (adapters/dynamodb/store.py),
read back with one Query (adapters/dynamodb/recovery_store.py) and through GET /metrics/recovery
(functions/api/figures.py)."""

from datetime import date, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.recovery_store import DynamoRecoveryCounters
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http.payment_webhook import PaymentEvent, parse
from payment_action_center.app import payment_events
from payment_action_center.app.recovery import recovery_figures
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import (
    AUTO_RETRY,
    PAYMENT_PROCESSOR,
    RETRY_WORKER,
    AuditEvent,
    Caller,
    Entry,
    Failure,
    Method,
)
from payment_action_center.domain.recovery import RecoveredBy, RecoveryFigures
from payment_action_center.ports import StoreConflict
from tests.shared import factories
from tests.shared.lambdas import Context, answer, cold_start, http_event
from tests.shared.moto_aws import TABLE

ADMIN = Caller("org_demo", "user_1", "admin@example.com", frozenset({"billing_admin"}))
READER_CLAIMS = {"sub": "u2", "email": "r@example.com", "org_id": "org_demo", "groups": "[]"}
NOVEMBER = date(2026, 11, 30)


def at(text: str) -> str:
    return timestamps.canonical(text)


class Month:
    """Drives entries through the store as the use cases do, at scripted instants."""

    def __init__(self) -> None:
        self.store = DynamoEntryStore(boto3.client("dynamodb"), TABLE)
        self.counters = DynamoRecoveryCounters(boto3.client("dynamodb"), TABLE)
        self.entries: dict[str, Entry] = {}

    def fail(
        self, name: str, received: str, amount: int, currency: str = "CAD", org: str = "org_demo"
    ) -> None:
        body = factories.payment_failed(
            occurred_at=received,
            data__organization_id=org,
            data__payment_id=f"pay_{name}",
            data__amount=amount,
            data__currency=currency,
            data__invoice_items=[{"invoice_id": "inv", "item_id": name, "amount": amount}],
        )
        entry = payment_events.new_entry(
            parse(PaymentEvent, body).report(), received_at=at(received)
        )
        assert entry is not None
        payment_events.record(
            self.store, entry, factories.delivery(f"msg_{name}", received_at=at(received))
        )
        self.entries[name] = entry

    def stored(self, name: str) -> Entry:
        """The entry as the next use case reads it: who asked for the retry and whether it
        charged a changed method come back from the table."""
        entry = self.entries[name]
        return self.store.get(entry.organization_id, entry.id)

    def retry(self, name: str, when: str, *, auto: bool = False, new_method: bool = False) -> None:
        entry = self.stored(name)
        by = AUTO_RETRY if auto else ADMIN.actor
        pending = entry.start_retry(by, at(when))
        self.store.transition(pending, AuditEvent(at(when), "retry_requested", by))
        sent = pending.charge_sent(at(when), Method.CREDIT_CARD, method_changed=new_method)
        self.store.transition(sent, AuditEvent(at(when), "charge_sent", RETRY_WORKER))
        self.entries[name] = sent

    def recovered(self, name: str, when: str) -> None:
        done = self.stored(name).recovered(f"pay_{name}_again", at(when), at(when))
        self.store.transition(done, AuditEvent(at(when), "recovered", PAYMENT_PROCESSOR))
        self.entries[name] = done

    def failed_again(self, name: str, when: str) -> None:
        again = self.stored(name).failed_again(Failure("card_declined", "no"), at(when), at(when))
        self.store.transition(
            again, AuditEvent(at(when), "failed_again", PAYMENT_PROCESSOR), log_failure=True
        )
        self.entries[name] = again

    def dismiss(self, name: str, when: str) -> None:
        dismissed = self.stored(name).dismiss(at(when))
        self.store.transition(dismissed, AuditEvent(at(when), "dismissed", ADMIN.actor))
        self.entries[name] = dismissed

    def figures(self, first: str | None, last: str | None) -> RecoveryFigures:
        return recovery_figures(self.counters, ADMIN, first, last, NOVEMBER)


@pytest.fixture
def month(aws: dict[str, str]) -> Month:
    """November 2026 in one organization (CAD, one USD entry), with neighbours that must not
    count: a failure of October 31 recovered in November, one of December 1, another
    organization's."""
    m = Month()
    # 1: an admin's retry, recovered 3 h 15 min after the failure.
    m.fail("a", "2026-11-01T10:00:00Z", 10000)
    m.retry("a", "2026-11-01T12:30:00Z")
    m.recovered("a", "2026-11-01T13:15:00Z")
    # 2: the automatic policy's retry, 25 h 59 min.
    m.fail("b", "2026-11-02T08:00:00Z", 25000)
    m.retry("b", "2026-11-03T08:00:00Z", auto=True)
    m.recovered("b", "2026-11-03T09:59:00Z")
    # 3: the scheduled payment's new method charged, 24 h 59 min.
    m.fail("c", "2026-11-02T23:30:00Z", 5000)
    m.retry("c", "2026-11-03T10:00:00Z", new_method=True)
    m.recovered("c", "2026-11-04T00:29:00Z")
    # 4: failed again once, then recovered: one failure, not two; 24 h.
    m.fail("d", "2026-11-05T14:00:00Z", 7500)
    m.retry("d", "2026-11-05T14:30:00Z")
    m.failed_again("d", "2026-11-05T15:00:00Z")
    m.retry("d", "2026-11-06T13:00:00Z")
    m.recovered("d", "2026-11-06T14:00:00Z")
    # 5: dismissed.
    m.fail("e", "2026-11-10T09:00:00Z", 12000)
    m.dismiss("e", "2026-11-11T09:00:00Z")
    # 6 and 7: still open, one after a failed retry.
    m.fail("f", "2026-11-15T09:00:00Z", 30000)
    m.retry("f", "2026-11-16T09:00:00Z")
    m.failed_again("f", "2026-11-16T09:05:00Z")
    m.fail("g", "2026-11-20T09:00:00Z", 2000)
    # 8: failed on the last second of November, recovered in December: counts on November 30.
    m.fail("h", "2026-11-30T23:59:59.5Z", 4000)
    m.retry("h", "2026-12-01T00:30:00Z")
    m.recovered("h", "2026-12-01T01:00:00Z")
    # Another currency: never added to the dollars.
    m.fail("u", "2026-11-12T12:00:00Z", 5000, currency="USD")
    m.dismiss("u", "2026-11-12T13:00:00Z")
    # Outside: October 31 (recovered on November 1), December 1, another organization.
    m.fail("oct", "2026-10-31T23:00:00Z", 9999)
    m.retry("oct", "2026-11-01T00:10:00Z")
    m.recovered("oct", "2026-11-01T01:00:00Z")
    m.fail("dec", "2026-12-01T00:00:00Z", 8888)
    m.fail("other", "2026-11-03T09:00:00Z", 100000, org="org_other")
    return m


def test_a_scripted_month_gives_exact_figures(month: Month) -> None:
    figures = month.figures("2026-11-01", "2026-11-30")
    cad, usd = figures.currencies
    assert (cad.currency, usd.currency) == ("CAD", "USD")
    assert (cad.failed.count, cad.failed.amount) == (8, 95500)
    assert {how: (t.count, t.amount) for how, t in cad.recovered_by.items()} == {
        RecoveredBy.MANUAL_RETRY: (3, 21500),
        RecoveredBy.AUTOMATIC_RETRY: (1, 25000),
        RecoveredBy.PAYMENT_METHOD_CHANGED: (1, 5000),
    }
    assert (cad.recovered.count, cad.recovered.amount) == (5, 51500)
    assert (cad.dismissed.count, cad.dismissed.amount) == (1, 12000)
    assert (cad.at_risk.count, cad.at_risk.amount) == (2, 32000)  # f and g
    assert cad.recovery_rate == 0.5393  # 51,500 / 95,500
    assert cad.median_hours_to_recovery == 24  # 1, 3, 24, 24, 25
    assert [(d.day, d.failed.amount, d.recovered.amount, d.dismissed.amount) for d in cad.days] == [
        ("2026-11-01", 10000, 10000, 0),
        ("2026-11-02", 30000, 30000, 0),
        ("2026-11-05", 7500, 7500, 0),
        ("2026-11-10", 12000, 0, 12000),
        ("2026-11-15", 30000, 0, 0),
        ("2026-11-20", 2000, 0, 0),
        ("2026-11-30", 4000, 4000, 0),
    ]
    assert (usd.failed.amount, usd.dismissed.amount, usd.at_risk.amount) == (5000, 5000, 0)
    assert (usd.recovery_rate, usd.median_hours_to_recovery) == (0.0, None)


def test_a_range_is_by_failure_date(month: Month) -> None:
    [first_day] = month.figures("2026-11-01", "2026-11-01").currencies
    assert (first_day.failed.amount, first_day.recovered.amount) == (10000, 10000)
    assert first_day.median_hours_to_recovery == 3
    [october] = month.figures("2026-10-31", "2026-10-31").currencies
    assert (october.failed.amount, october.recovered.amount, october.at_risk.amount) == (
        9999,
        9999,
        0,
    )
    [two_days] = month.figures("2026-11-01", "2026-11-02").currencies
    assert two_days.median_hours_to_recovery == 24  # 3, 24, 25
    [last_days] = month.figures("2026-11-30", "2026-12-01").currencies
    assert (last_days.failed.count, last_days.recovered.count, last_days.at_risk.amount) == (
        2,
        1,
        8888,
    )


def test_the_default_is_the_last_30_days(month: Month) -> None:
    figures = month.figures(None, None)
    assert (figures.first_day, figures.last_day) == ("2026-11-01", "2026-11-30")
    assert figures.currencies[0].failed.amount == 95500


def test_a_redelivered_failure_or_a_failed_retry_counts_no_second_failure(month: Month) -> None:
    with pytest.raises(StoreConflict):
        month.store.record_failure(
            month.entries["g"],
            AuditEvent(at("2026-11-20T09:00:00Z"), "received", PAYMENT_PROCESSOR),
            factories.delivery("msg_g_again", received_at=at("2026-11-20T09:00:01Z")),
        )
    month.retry("g", "2026-11-21T09:00:00Z")
    month.failed_again("g", "2026-11-21T09:01:00Z")
    cad = month.figures("2026-11-01", "2026-11-30").currencies[0]
    assert (cad.failed.count, cad.failed.amount, cad.at_risk.amount) == (8, 95500, 32000)


def test_the_counters_of_a_day_are_sharded_by_entry_and_read_with_one_query(month: Month) -> None:
    client = boto3.client("dynamodb")
    items = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.recovery_days("org_demo")}},
    )["Items"]
    sort_keys = sorted(i["sk"]["S"] for i in items)
    expected = {
        keys.recovery_day(e.received_at[:10], e.currency, keys.entry_shard(e.id))
        for name, e in month.entries.items()
        if e.organization_id == "org_demo"
    }
    assert set(sort_keys) == expected
    calls: list[str] = []
    month.counters._client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    month.figures("2026-01-01", "2026-12-31")
    assert calls == ["Query"]


def get(api: ModuleType, query: dict[str, str] | None) -> tuple[int, Any]:
    event = http_event("GET", "/metrics/recovery", query=query, claims=READER_CLAIMS)
    return answer(api.lambda_handler(event, Context()))


def test_the_route_answers_the_figures_to_any_member(month: Month) -> None:
    api = cold_start("api")
    status, body = get(api, {"from": "2026-11-01", "to": "2026-11-30"})
    assert status == 200, body
    assert (body["from"], body["to"]) == ("2026-11-01", "2026-11-30")
    cad = body["currencies"][0]
    assert cad["recovered_by"] == {
        "manual_retry": {"amount": 21500, "count": 3},
        "automatic_retry": {"amount": 25000, "count": 1},
        "payment_method_changed": {"amount": 5000, "count": 1},
    }
    assert (cad["failed"], cad["recovered"], cad["dismissed"], cad["at_risk"]) == (
        {"amount": 95500, "count": 8},
        {"amount": 51500, "count": 5},
        {"amount": 12000, "count": 1},
        {"amount": 32000, "count": 2},
    )
    assert (cad["recovery_rate"], cad["median_hours_to_recovery"]) == (0.5393, 24)
    assert cad["days"][0] == {
        "date": "2026-11-01",
        "failed": {"amount": 10000, "count": 1},
        "recovered": {"amount": 10000, "count": 1},
        "dismissed": {"amount": 0, "count": 0},
    }


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"from": "2026-11-31"}, "from must be a date"),
        ({"to": "2026/11/30"}, "to must be a date"),
        ({"from": "2026-W48-1"}, "from must be a date"),
        ({"from": "2026-12-01", "to": "2026-11-30"}, "is after to"),
        ({"from": "2025-11-29", "to": "2026-11-30"}, "spans 367 days; at most 366"),
    ],
)
def test_a_bad_period_is_a_clear_400(aws: dict[str, str], query: dict[str, str], says: str) -> None:
    status, body = get(cold_start("api"), query)
    assert status == 400
    assert body["code"] == "invalid_period"
    assert says in body["message"]


def test_366_days_and_the_default_are_fine(aws: dict[str, str]) -> None:
    api = cold_start("api")
    status, body = get(api, {"from": "2025-11-30", "to": "2026-11-30"})
    assert (status, body["currencies"]) == (200, [])
    status, body = get(api, None)
    today = date.fromisoformat(body["to"])
    assert status == 200
    assert date.fromisoformat(body["from"]) == today - timedelta(days=29)
