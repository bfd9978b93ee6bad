"""The digest's line of automatic retries to come (adapters/emails/digest.py, docs/contract.md
§4.3): in the recipient's language, in both parts, only while the organization's policy is on;
and the counts, by the organization's calendar (domain/auto_retry.py `scheduled_retries`)."""

from dataclasses import replace

import pytest

from payment_action_center.domain.auto_retry import (
    RetryPolicy,
    ScheduledRetries,
    scheduled_retries,
)
from payment_action_center.domain.entries import Failure, Status
from tests.shared import factories
from tests.unit.adapters.test_emails import digest

WORDS = {
    "en-CA": "Retries scheduled today: 2 · tomorrow: 0 · the day after: 13",
    "fr-CA": "Nouveaux essais prévus aujourd'hui : 2 · demain : 0 · après-demain : 13",
}


@pytest.mark.parametrize("locale", ["en-CA", "fr-CA"])
def test_the_line_is_in_both_parts_in_the_recipients_language(locale: str) -> None:
    email = digest(locale=locale, scheduled=ScheduledRetries(today=2, tomorrow=0, day_after=13))
    assert WORDS[locale] in email.text
    assert WORDS[locale].replace("'", "&#39;") in email.html


@pytest.mark.parametrize("locale", ["en-CA", "fr-CA"])
def test_no_line_while_the_policy_is_off(locale: str) -> None:
    email = digest(locale=locale)
    assert "scheduled" not in email.text and "prévus" not in email.text
    assert "data-scheduled-retries" not in email.html


def test_the_counts_follow_the_organization_s_calendar() -> None:
    policy = RetryPolicy(enabled=True)
    zone = "America/Toronto"
    first = factories.entry()  # failed 2026-11-24 10:30 in Toronto: day 1 is the 25th
    entries = [
        first,  # due the 25th: tomorrow, seen on the 24th at 23:30 Toronto
        replace(first, id="txn_b", auto_attempts=1),  # the 27th: later
        replace(factories.entry(occurred_at="2026-11-23T15:00:00Z")),  # the 24th: today
        replace(first, id="txn_c", failure=Failure("stolen_card", "")),  # never
        replace(first, id="txn_d", status=Status.RETRY_PENDING),  # in flight
        replace(factories.entry(occurred_at="2026-11-20T15:00:00Z")),  # overdue: today
    ]
    now = "2026-11-25T04:30:00.000000000Z"  # 23:30 on the 24th in Toronto
    assert scheduled_retries(entries, policy, zone, now) == ScheduledRetries(2, 1, 0)
    assert scheduled_retries(entries, RetryPolicy(), zone, now) == ScheduledRetries()
