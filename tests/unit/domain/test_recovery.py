"""domain/recovery.py: what a change adds to the counters, the period of a request and the
median to the hour."""

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_action_center.domain.entries import AUTO_RETRY, Actor, EntryType, Method
from payment_action_center.domain.recovery import (
    DayCounters,
    InvalidPeriod,
    counted,
    figures,
    median_hours,
    period,
    ttr_counter,
)
from tests.shared import factories

ADMIN = Actor(type="user", id="u1", email="a@example.com")


def test_a_new_entry_counts_one_failure_on_the_day_it_was_received() -> None:
    entry = factories.entry(
        data__amount=700, data__invoice_items=[{"invoice_id": "i", "item_id": "x", "amount": 700}]
    )
    change = counted(entry, "received")
    assert change is not None
    assert (change.day, change.currency, dict(change.add)) == (
        entry.received_at[:10],
        "CAD",
        {"failed_count": 1, "failed_amount": 700},
    )


def test_an_entry_recorded_before_the_figures_and_a_refund_count_nothing() -> None:
    """An entry without `in_figures` (recorded before the figures existed) would add a recovery
    to a day that never counted its failure; a failed refund is money owed, not revenue."""
    earlier = replace(factories.entry(), in_figures=False)
    pending = earlier.start_retry(ADMIN, "2026-11-24T16:00:00.000000000Z")
    sent = pending.charge_sent("2026-11-24T16:00:00.000000000Z", Method.CREDIT_CARD)
    done = sent.recovered("pay_new", "2026-11-24T18:00:00.000000000Z", "2026-11-24T18:00:00Z")
    assert counted(done, "recovered") is None
    assert counted(earlier.dismiss("2026-11-24T16:00:00.000000000Z"), "dismissed") is None
    refund = factories.entry(
        type="refund.failed", data__kind="refund", data__scheduled_payment_id=None
    )
    assert refund.type is EntryType.CREDIT_CARD_REFUND
    assert counted(refund, "received") is None


@pytest.mark.parametrize(
    ("by", "new_method", "counter"),
    [
        (ADMIN, False, "recovered_manual_retry_count"),
        (AUTO_RETRY, False, "recovered_automatic_retry_count"),
        (AUTO_RETRY, True, "recovered_payment_method_changed_count"),
        (ADMIN, True, "recovered_payment_method_changed_count"),
    ],
)
def test_a_recovery_counts_by_how(by: Actor, new_method: bool, counter: str) -> None:
    entry = factories.entry()
    pending = entry.start_retry(by, "2026-11-24T16:00:00.000000000Z")
    sent = pending.charge_sent(
        "2026-11-24T16:00:00.000000000Z", Method.CREDIT_CARD, method_changed=new_method
    )
    done = sent.recovered("pay_new", "2026-11-24T18:29:59.000000000Z", "2026-11-24T18:29:59Z")
    change = counted(done, "recovered")
    assert change is not None
    assert change.add[counter] == 1
    assert change.add[ttr_counter(2)] == 1  # 15:30:01 to 18:29:59: 2 h 59 min 58 s
    assert change.day == "2026-11-24"


def test_nothing_else_moves_the_counters() -> None:
    entry = factories.entry()
    pending = entry.start_retry(ADMIN, "2026-11-24T16:00:00.000000000Z")
    assert counted(pending, "retry_requested") is None
    assert counted(pending, "received") is None  # only a new entry is a failure
    assert counted(entry, "dismissed") is None  # not dismissed


def test_the_median_is_to_the_hour_and_the_mean_of_two_middles() -> None:
    assert median_hours({}) is None
    assert median_hours({"ttr_h_3": 1}) == 3
    assert median_hours({"ttr_h_1": 1, "ttr_h_4": 1}) == 2.5
    assert median_hours({"ttr_h_10": 2, "ttr_h_2": 1, "failed_count": 9}) == 10


@given(st.lists(st.integers(min_value=0, max_value=2000), min_size=1, max_size=60))
def test_the_median_of_the_histogram_is_the_median_of_the_hours(hours: list[int]) -> None:
    histogram: dict[str, int] = {}
    for h in hours:
        histogram[ttr_counter(h)] = histogram.get(ttr_counter(h), 0) + 1
    ordered = sorted(hours)
    n = len(ordered)
    expected = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    assert median_hours(histogram) == expected


def test_figures_add_shards_up_per_currency_and_keep_to_the_range() -> None:
    rows = [
        DayCounters("2026-11-01", "CAD", {"failed_count": 1, "failed_amount": 100}),
        DayCounters("2026-11-01", "CAD", {"failed_count": 2, "failed_amount": 300}),
        DayCounters("2026-11-01", "EUR", {"failed_count": 1, "failed_amount": 50}),
        DayCounters("2026-11-02", "CAD", {"failed_count": 1, "failed_amount": 1}),
    ]
    result = figures("2026-11-01", "2026-11-01", rows)
    assert [(c.currency, c.failed.count, c.failed.amount) for c in result.currencies] == [
        ("CAD", 3, 400),
        ("EUR", 1, 50),
    ]
    assert result.currencies[0].recovery_rate == 0.0


def test_the_period_defaults_and_refusals() -> None:
    today = date(2026, 11, 30)
    assert period(None, None, today) == ("2026-11-01", "2026-11-30")
    assert period(None, "2026-02-28", today) == ("2026-01-30", "2026-02-28")
    assert period("2026-11-30", None, today) == ("2026-11-30", "2026-11-30")
    assert period("2025-12-01", "2026-11-30", today) == ("2025-12-01", "2026-11-30")
    for bad in [
        ("2026-02-30", None),
        ("26-11-01", None),
        ("2026-11-01", "2026-10-31"),
        ("2024-11-30", "2025-12-01"),
        (" 2026-11-01", None),
    ]:
        with pytest.raises(InvalidPeriod):
            period(*bad, today)
