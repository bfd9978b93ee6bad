"""The automatic retry policy's schedule (domain/auto_retry.py): when each automatic attempt is
due, in the organization's time zone, across daylight-saving changes; which entries it retries."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_action_center.domain import auto_retry
from payment_action_center.domain.auto_retry import (
    RetryPolicy,
    checked,
    due_at,
    in_window,
    next_attempt,
    next_attempt_at,
)
from payment_action_center.domain.declines import DeclineClass, guidance
from payment_action_center.domain.entries import (
    RETRY_WORKER,
    EntryType,
    Failure,
    Method,
    Network,
    PaymentKind,
    Status,
)
from payment_action_center.domain.errors import InvalidPayload
from tests.shared import factories

ON = RetryPolicy(enabled=True)


@pytest.mark.parametrize(
    ("first_failed_at", "time_zone", "attempt", "due"),
    [
        # Montréal in winter (UTC-5): the local date of the failure, + 1, 3, 7, 14 days, 09:00.
        ("2026-11-24T15:30:00.000000000Z", "America/Toronto", 0, "2026-11-25T14:00:00.000000000Z"),
        ("2026-11-24T15:30:00.000000000Z", "America/Toronto", 1, "2026-11-27T14:00:00.000000000Z"),
        ("2026-11-24T15:30:00.000000000Z", "America/Toronto", 2, "2026-12-01T14:00:00.000000000Z"),
        ("2026-11-24T15:30:00.000000000Z", "America/Toronto", 3, "2026-12-08T14:00:00.000000000Z"),
        # 02:30 UTC on the 25th is still the 24th in Montréal: day 1 is the 25th.
        ("2026-11-25T02:30:00.000000000Z", "America/Toronto", 0, "2026-11-25T14:00:00.000000000Z"),
        # The same instant in Paris is the 25th: day 1 is the 26th, 09:00 CET (UTC+1).
        ("2026-11-25T02:30:00.000000000Z", "Europe/Paris", 0, "2026-11-26T08:00:00.000000000Z"),
        # Across the fall-back change (Nov 1 2026 in North America): EDT failure, EST attempt.
        ("2026-10-30T13:00:00.000000000Z", "America/Toronto", 0, "2026-10-31T13:00:00.000000000Z"),
        ("2026-10-30T13:00:00.000000000Z", "America/Toronto", 1, "2026-11-02T14:00:00.000000000Z"),
        # Across spring-forward (Mar 8 2026): EST failure, EDT attempt at 09:00 local.
        ("2026-03-06T15:00:00.000000000Z", "America/Toronto", 1, "2026-03-09T13:00:00.000000000Z"),
        # UTC itself, and a zone east of UTC by 13 hours.
        ("2026-11-24T23:59:59.000000000Z", "UTC", 0, "2026-11-25T09:00:00.000000000Z"),
        ("2026-11-24T12:00:00.000000000Z", "Pacific/Auckland", 0, "2026-11-25T20:00:00.000000000Z"),
    ],
)
def test_an_automatic_attempt_is_due_at_the_local_time_of_its_day(
    first_failed_at: str, time_zone: str, attempt: int, due: str
) -> None:
    assert due_at(first_failed_at, ON, time_zone, attempt) == due


def test_a_local_time_the_clocks_skip_falls_in_the_hour_after() -> None:
    policy = RetryPolicy(enabled=True, days=(1,), local_time="02:30")
    # Mar 8 2026, Montréal: 02:00 EST jumps to 03:00 EDT; 02:30 read as EST is 03:30 EDT.
    due = due_at("2026-03-07T15:00:00.000000000Z", policy, "America/Toronto", 0)
    assert due == "2026-03-08T07:30:00.000000000Z"


def test_a_local_time_the_clocks_pass_twice_is_its_first_occurrence() -> None:
    policy = RetryPolicy(enabled=True, days=(1,), local_time="01:30")
    # Nov 1 2026, Montréal: 01:30 happens in EDT (05:30 UTC), then again in EST.
    due = due_at("2026-10-31T15:00:00.000000000Z", policy, "America/Toronto", 0)
    assert due == "2026-11-01T05:30:00.000000000Z"


def test_no_attempt_beyond_the_last_day() -> None:
    assert due_at("2026-11-24T15:30:00.000000000Z", ON, "UTC", 4) is None


def test_the_days_count_from_the_first_failure_not_the_latest() -> None:
    entry = factories.entry()  # card_declined: a soft decline, failed 2026-11-24T15:30Z
    pending = entry.start_retry(RETRY_WORKER, "2026-11-25T14:00:00.000000000Z", automatic=True)
    again = pending.failed_again(
        Failure("card_declined", ""), "2026-11-25T14:00:05.000000000Z", "2026-11-25T14:00:06Z"
    )
    assert again.auto_attempts == 1
    assert again.first_failure_at == entry.failed_at
    assert next_attempt_at(again, ON, "America/Toronto") == "2026-11-27T14:00:00.000000000Z"


def test_the_next_attempt_is_none_when_off_not_failed_hard_stopped_or_done() -> None:
    entry = factories.entry()
    zone = "America/Toronto"
    assert next_attempt_at(entry, ON, zone) == "2026-11-25T14:00:00.000000000Z"
    assert next_attempt_at(entry, RetryPolicy(), zone) is None
    assert next_attempt_at(replace(entry, status=Status.DISMISSED), ON, zone) is None
    assert next_attempt_at(replace(entry, failure=Failure("stolen_card", "")), ON, zone) is None
    assert next_attempt_at(replace(entry, auto_attempts=4), ON, zone) is None
    assert next_attempt_at(replace(entry, auto_stopped="a cap"), ON, zone) is None


def test_the_next_visit_is_the_next_local_time() -> None:
    zone = "America/Toronto"
    assert auto_retry.next_visit(ON, zone, "2026-11-25T13:59:00.000000000Z") == (
        "2026-11-25T14:00:00.000000000Z"
    )
    assert auto_retry.next_visit(ON, zone, "2026-11-25T14:00:00.000000000Z") == (
        "2026-11-26T14:00:00.000000000Z"
    )


@pytest.mark.parametrize(
    ("days", "local_time", "where"),
    [
        ([], "09:00", "days"),
        ([1, 2, 3, 4, 5, 6, 7], "09:00", "days"),
        ([0, 3], "09:00", "days"),
        ([1, 61], "09:00", "days"),
        ([3, 1], "09:00", "days"),
        ([1, 1], "09:00", "days"),
        ([1, 3], "9:00", "local_time"),
        ([1, 3], "24:00", "local_time"),
        ([1, 3], "09:60", "local_time"),
        ([1, 3], "09:00:00", "local_time"),
    ],
)
def test_a_policy_that_breaks_a_rule_is_refused_naming_it(
    days: list[int], local_time: str, where: str
) -> None:
    with pytest.raises(InvalidPayload) as refused:
        checked(True, days, local_time)
    assert [p.loc for p in refused.value.problems] == [where]


def test_a_policy_within_the_rules_is_taken_as_asked() -> None:
    assert checked(True, [2, 5, 60], "23:59") == RetryPolicy(True, (2, 5, 60), "23:59")
    assert checked(False, [1, 2, 3, 4, 5, 6], "00:00").days == (1, 2, 3, 4, 5, 6)


CODES = st.sampled_from(
    ["card_declined", "do_not_honor", "stolen_card", "lost_card", "expired_card", "fraudulent",
     "insufficient_funds", "processing_error", "incorrect_cvc", "revocation_of_authorization",
     "unknown_code", "R01", "R05", "R02", "901", "903"]
)  # fmt: skip
NETWORK_CODES = st.sampled_from([None, "05", "04", "51", "54", "R0", "N7"])
ADVICE = st.sampled_from([None, "01", "02", "03", "21", "24", "30", "40"])


KINDS = st.sampled_from(
    [
        (EntryType.INSTALLMENT, PaymentKind.INSTALLMENT, Method.CREDIT_CARD),
        (EntryType.INSTALLMENT, PaymentKind.INSTALLMENT, Method.ECHECK),
        (EntryType.SUBSCRIPTION, PaymentKind.SUBSCRIPTION, Method.CREDIT_CARD),
        (EntryType.ECHECK_PAYMENT, PaymentKind.ONE_TIME, Method.ECHECK),
        (EntryType.CREDIT_CARD_REFUND, PaymentKind.REFUND, Method.CREDIT_CARD),
    ]
)


@given(
    code=CODES,
    network=st.sampled_from([None, *Network]),
    decline=NETWORK_CODES,
    advice=ADVICE,
    kinds=KINDS,
    attempts=st.integers(0, 6),
    status=st.sampled_from(list(Status)),
)
def test_the_policy_never_schedules_a_failure_that_is_not_a_soft_decline(
    code: str,
    network: Network | None,
    decline: str | None,
    advice: str | None,
    kinds: tuple[EntryType, PaymentKind, Method],
    attempts: int,
    status: Status,
) -> None:
    entry_type, kind, method = kinds
    entry = replace(
        factories.entry(),
        type=entry_type,
        kind=kind,
        method=method,
        status=status,
        failure=Failure(
            code, "", network=network, network_decline_code=decline, advice_code=advice
        ),
        auto_attempts=attempts,
    )
    scheduled = next_attempt_at(entry, ON, "America/Toronto")
    decline_class = guidance(entry.type, entry.method, entry.failure).decline_class
    if decline_class is DeclineClass.NEVER_RETRY:
        assert scheduled is None
    if (
        decline_class is not DeclineClass.RETRY_LATER
        or entry_type is EntryType.CREDIT_CARD_REFUND  # money going out: an admin's retry
        or attempts >= len(ON.days)
        or status is not Status.FAILED
    ):
        assert scheduled is None
    else:
        assert scheduled == due_at(entry.first_failure_at, ON, "America/Toronto", attempts)


def test_missed_attempts_are_skipped_and_the_last_one_expires() -> None:
    """Failed on November 24 (Toronto): attempts due on the 25th, 27th, December 1st and 8th."""
    entry = factories.entry()
    zone = "America/Toronto"
    assert next_attempt(entry, ON, zone, "2026-11-24T20:00:00.000000000Z") == (
        0,
        "2026-11-25T14:00:00.000000000Z",
    )
    # On the 28th the 25th's and the 27th's passed: the 27th's is the one to make.
    assert next_attempt(entry, ON, zone, "2026-11-28T14:00:00.000000000Z") == (
        1,
        "2026-11-27T14:00:00.000000000Z",
    )
    assert next_attempt(entry, ON, zone, "2026-12-09T14:00:00.000000000Z") == (
        3,
        "2026-12-08T14:00:00.000000000Z",
    )
    assert next_attempt(entry, ON, zone, "2026-12-10T14:00:00.000000000Z") is None
    # Without an instant (the schedule as such), the next one in order.
    assert next_attempt(entry, ON, zone) == (0, "2026-11-25T14:00:00.000000000Z")


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        ("2026-11-25T13:59:59.000000000Z", False),  # 08:59:59 Toronto
        ("2026-11-25T14:00:00.000000000Z", True),
        ("2026-11-25T19:59:59.000000000Z", True),  # 14:59:59
        ("2026-11-25T20:00:00.000000000Z", False),  # 15:00: six hours after 09:00
        ("2026-11-26T04:00:00.000000000Z", False),  # 23:00
    ],
)
def test_attempts_are_made_in_the_six_hours_after_local_time(now: str, inside: bool) -> None:
    assert in_window(ON, "America/Toronto", now) is inside
