"""The retry guard over HTTP (domain/retry_rules.py, docs/contract.md §4.2): POST …/retry answers
409 `retry_not_allowed` with the rule in words when the networks' or the banks' rules forbid a
retry now, and changes nothing; the entry's `actions` omit `retry` and `retry_not_allowed` says
why."""

from dataclasses import replace
from datetime import timedelta
from types import ModuleType
from typing import Any

import boto3

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Actor, AuditEvent
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher
from tests.shared.moto_aws import TABLE
from tests.unit.handlers.test_api import api, dismiss, failure, get_entry, queued, retry

__all__ = ["api"]  # the fixture, used by name


def store() -> DynamoEntryStore:
    return DynamoEntryStore(boto3.client("dynamodb"), TABLE)


def recorded(**overrides: Any) -> str:
    """An entry written as the webhook would, with fields no single webhook gives (attempts)."""
    made = factories.entry(**{k: v for k, v in overrides.items() if "__" in k})
    made = replace(made, **{k: v for k, v in overrides.items() if "__" not in k})
    received = AuditEvent(made.received_at, "received", Actor("system"), {})
    store().record_failure(made, received, factories.delivery())
    return made.id


def one_time_debit(return_code: str, **changes: Any) -> str:
    """A one-time e-check returned with `return_code`, recorded with `changes` (attempts…)."""
    return recorded(
        data__kind="one_time",
        data__method="echeck",
        data__scheduled_payment_id=None,
        data__failure={"code": "debit_returned", "message": "", "return_code": return_code},
        **changes,
    )


def test_a_never_retry_failure_is_409_with_the_rule_and_nothing_changes(api: ModuleType) -> None:
    entry_id = failure(
        data__failure={
            "code": "card_declined",
            "message": "",
            "network": "visa",
            "network_decline_code": "43",
        }
    )
    status, body = retry(api, entry_id)
    assert (status, body["code"]) == (409, "retry_not_allowed")
    assert "Visa category 1" in body["message"]
    assert "retry_allowed_at" not in body
    assert queued() == []
    _, shown = get_entry(api, entry_id)
    assert (shown["status"], shown["attempts"]) == ("failed", 1)
    assert shown["decline_class"] == "never_retry"
    # An installment: the customer may have changed the card at the billing platform, which
    # lifts the rule, so retry stays listed; the reason is shown.
    assert "retry" in shown["actions"]
    assert "Visa category 1" in shown["retry_not_allowed"]["reason"]


def test_a_one_time_debit_refused_by_the_rules_does_not_list_retry(api: ModuleType) -> None:
    entry_id = failure(
        data__kind="one_time",
        data__method="echeck",
        data__scheduled_payment_id=None,
        data__failure={"code": "debit_returned", "message": "", "return_code": "R10"},
    )
    _, shown = get_entry(api, entry_id)
    assert shown["actions"] == ["dismiss"]
    assert "new authorization" in shown["retry_not_allowed"]["reason"]
    assert retry(api, entry_id)[0] == 409


def test_a_third_re_presentment_of_an_r01_debit_is_409(api: ModuleType) -> None:
    entry_id = one_time_debit("R01", attempts=3)
    status, body = retry(api, entry_id)
    assert (status, body["code"]) == (409, "retry_not_allowed")
    assert "presented again 2 times" in body["message"]

    allowed = one_time_debit("R01", attempts=2)
    assert retry(api, allowed)[0] == 202


def test_a_debit_older_than_180_days_is_409(api: ModuleType) -> None:
    entry_id = one_time_debit("R01", received_at="2026-01-02T10:00:00.000000000Z")
    status, body = retry(api, entry_id)
    assert status == 409
    assert "more than 180 days old" in body["message"]


def recent_failure(**overrides: Any) -> str:
    """A failure delivered as it happens (the webhook refuses an event dated after receipt)."""
    body = factories.payment_failed(**overrides)
    result = payment_webhook.handle_payment_event(
        store(), RecordingPublisher(), factories.delivery(of=body), body
    )
    assert result.entry_id is not None
    return result.entry_id


def test_a_mastercard_retry_after_24_hours_is_409_until_then_saying_when(api: ModuleType) -> None:
    failed_at = timestamps.plus(timestamps.now(), -timedelta(hours=2))
    entry_id = recent_failure(
        occurred_at=timestamps.display(failed_at),
        data__failure={
            "code": "card_declined",
            "message": "",
            "network": "mastercard",
            "advice_code": "25",
        },
    )
    status, body = retry(api, entry_id)
    assert (status, body["code"]) == (409, "retry_not_allowed")
    assert "retry after 24 hours" in body["message"]
    _, shown = get_entry(api, entry_id)
    recorded_at = timestamps.canonical(shown["failed_at"])
    expected = timestamps.display(timestamps.plus(recorded_at, timedelta(hours=24)))
    assert body["retry_allowed_at"] == expected
    assert shown["retry_not_allowed"]["allowed_at"] == expected

    # A day later the rule allows it.
    later = recent_failure(
        occurred_at=timestamps.display(timestamps.plus(timestamps.now(), -timedelta(hours=25))),
        data__failure={"code": "card_declined", "message": "", "advice_code": "25"},
    )
    assert retry(api, later)[0] == 202


def test_a_changed_payment_method_lifts_the_failure_s_rules(api: ModuleType) -> None:
    """The scheduled payment names a new card after the failure: a new card, to which the old
    card's "never" does not apply."""
    entry_id = failure(
        data__scheduled_payment_id="sp_guard",
        data__failure={"code": "stolen_card", "message": ""},
    )
    assert retry(api, entry_id)[0] == 409
    billing = DynamoBillingStore(boto3.client("dynamodb"), TABLE)
    change = factories.scheduled_payment_upserted(
        occurred_at="2026-11-25T09:00:00Z",
        data__scheduled_payment_id="sp_guard",
        data__payment_method={"token": "tok_success", "card_id": "card_new"},
    )
    billing_webhook.handle_billing_event(
        billing, factories.billing_delivery(received_at="2026-11-25T09:00:01.000000000Z"), change
    )
    status, body = retry(api, entry_id)
    assert status == 202, body
    assert body["status"] == "retry_pending"


def test_a_debit_returned_for_its_account_is_not_presented_again_as_it_is(api: ModuleType) -> None:
    """Nacha lets an R02-R04 return be presented again only with corrected details."""
    entry_id = one_time_debit("R03")
    status, body = retry(api, entry_id)
    assert (status, body["code"]) == (409, "retry_not_allowed")
    assert "new account details" in body["message"]


def change_card(scheduled_payment_id: str, at: str, card_id: str, brand: str = "visa") -> None:
    billing = DynamoBillingStore(boto3.client("dynamodb"), TABLE)
    change = factories.scheduled_payment_upserted(
        occurred_at=at,
        data__scheduled_payment_id=scheduled_payment_id,
        data__payment_method={"token": f"tok_{card_id}", "card_id": card_id, "brand": brand},
    )
    received = timestamps.plus(timestamps.canonical(at), timedelta(seconds=1))
    billing_webhook.handle_billing_event(
        billing, factories.billing_delivery(received_at=received), change
    )


def test_the_same_card_saved_again_does_not_lift_the_rules(api: ModuleType) -> None:
    """A new token for the card the network refused is still that card."""
    entry_id = failure(
        data__scheduled_payment_id="sp_same",
        data__payment_method={"token": "tok_a", "card_id": "card_same"},
        data__failure={"code": "stolen_card", "message": ""},
    )
    change_card("sp_same", "2026-11-25T09:00:00Z", "card_same")
    assert retry(api, entry_id)[0] == 409


def test_a_method_changed_before_the_latest_failure_lifts_nothing(api: ModuleType) -> None:
    """The new card was charged and failed in its turn (the entry's failure is its own, dated
    after the change): that failure's rules hold."""
    change_card("sp_before", "2026-11-20T09:00:00Z", "card_new")
    entry_id = failure(
        data__scheduled_payment_id="sp_before",
        data__failure={"code": "lost_card", "message": ""},
    )
    assert retry(api, entry_id)[0] == 409


def test_a_closed_entry_answers_conflict_not_the_rules(api: ModuleType) -> None:
    entry_id = failure(data__failure={"code": "fraudulent", "message": ""})
    assert dismiss(api, entry_id)[0] == 200
    status, body = retry(api, entry_id)
    assert (status, body["code"]) == (409, "conflict")


def visa_failure(card_id: str, **overrides: Any) -> str:
    return failure(
        data__payment_method={"token": f"tok_{card_id}", "card_id": card_id, "brand": "visa"},
        data__failure={"code": "card_declined", "message": "", "network": "visa"},
        **overrides,
    )


def test_the_16th_reattempt_of_a_visa_card_within_30_days_is_409(api: ModuleType) -> None:
    """Visa's cap counts the card's reattempts across entries (one family's installments on one
    card): 15 retries pass, the 16th is refused, and another card is not affected."""
    for _ in range(15):
        assert retry(api, visa_failure("card_family"))[0] == 202
    sixteenth = visa_failure("card_family")
    status, body = retry(api, sixteenth)
    assert (status, body["code"]) == (409, "retry_not_allowed")
    assert "already retried 15 times in the last 30 days" in body["message"]
    assert "(15)" in body["message"]
    _, shown = get_entry(api, sixteenth)
    assert (shown["status"], shown["attempts"]) == ("failed", 1)
    # Its page counts the card's reattempts and says why; a list does not count them.
    assert "already retried 15 times" in shown["retry_not_allowed"]["reason"]
    assert "retry" in shown["actions"]  # an installment: a new card would lift the cap
    assert retry(api, visa_failure("card_other"))[0] == 202


def reattempted(card: str, at: str, count: int) -> None:
    """`count` reattempts of the card written as a retry request writes them, at `at`."""
    entries = store()
    for _ in range(count):
        entry = entries.get("org_demo", visa_failure(f"card_filler_{card}"))
        pending = entry.start_retry(by=Actor("system"), at=at)
        event = AuditEvent(at, "retry_requested", Actor("system"), {})
        entries.transition(pending, event, card_attempt=card)


def test_reattempts_older_than_30_days_do_not_count(api: ModuleType) -> None:
    old = timestamps.plus(timestamps.now(), -timedelta(days=30, minutes=1))
    reattempted("card_old", old, 15)
    assert retry(api, visa_failure("card_old"))[0] == 202
    recent = timestamps.plus(timestamps.now(), -timedelta(days=29, hours=23))
    reattempted("card_recent", recent, 15)
    assert retry(api, visa_failure("card_recent"))[0] == 409


def test_mastercard_allows_35_reattempts(api: ModuleType) -> None:
    now = timestamps.now()

    def mastercard(card_id: str) -> str:
        return failure(
            data__payment_method={"token": f"tok_{card_id}", "card_id": card_id},
            data__failure={"code": "card_declined", "message": "", "network": "mastercard"},
        )

    reattempted("card_mc", now, 34)
    assert retry(api, mastercard("card_mc"))[0] == 202
    status, body = retry(api, mastercard("card_mc"))
    assert status == 409
    assert "already retried 35 times" in body["message"]


def test_a_changed_method_is_judged_by_the_new_card_s_reattempts(api: ModuleType) -> None:
    """The old card's rule is lifted by a new card; the new card's own cap still holds."""
    entry_id = failure(
        data__scheduled_payment_id="sp_capped",
        data__failure={"code": "stolen_card", "message": "", "network": "visa"},
    )
    reattempted("card_capped", timestamps.now(), 15)
    change_card("sp_capped", "2026-11-25T09:00:00Z", "card_capped")
    status, body = retry(api, entry_id)
    assert (status, body["code"]) == (409, "retry_not_allowed")
    assert "already retried 15 times" in body["message"]
    change_card("sp_capped", "2026-11-25T10:00:00Z", "card_fresh")
    assert retry(api, entry_id)[0] == 202


def test_a_capped_new_card_is_refused_even_when_the_old_card_s_rules_allow(
    api: ModuleType,
) -> None:
    """The retry charges the scheduled payment's new card: its cap holds, whatever the failed
    card's own rules say, and the reattempt is the new card's."""
    entry_id = visa_failure("card_old_ok", data__scheduled_payment_id="sp_to_capped")
    reattempted("card_new_capped", timestamps.now(), 15)
    change_card("sp_to_capped", "2026-11-25T09:00:00Z", "card_new_capped")
    status, body = retry(api, entry_id)
    assert (status, body["code"]) == (409, "retry_not_allowed")
    assert "already retried 15 times" in body["message"]

    other = visa_failure("card_old_ok2", data__scheduled_payment_id="sp_to_fresh")
    change_card("sp_to_fresh", "2026-11-25T09:00:00Z", "card_new_fresh")
    assert retry(api, other)[0] == 202
    entries = store()
    since = timestamps.plus(timestamps.now(), -timedelta(days=30))
    assert len(entries.card_reattempts("org_demo", "card_new_fresh", since)) == 1
    assert entries.card_reattempts("org_demo", "card_old_ok2", since) == []


def test_a_new_card_is_capped_by_its_own_network(api: ModuleType) -> None:
    """A Mastercard decline, then a Visa card: Visa's 15, not Mastercard's 35."""
    entry_id = failure(
        data__scheduled_payment_id="sp_mc_to_visa",
        data__payment_method={"token": "tok_mc", "card_id": "card_mc_old"},
        data__failure={"code": "card_declined", "message": "", "network": "mastercard"},
    )
    reattempted("card_visa_new", timestamps.now(), 20)
    change_card("sp_mc_to_visa", "2026-11-25T09:00:00Z", "card_visa_new", brand="visa")
    status, body = retry(api, entry_id)
    assert status == 409
    assert "allows (15)" in body["message"]


def test_a_capped_card_is_allowed_again_when_its_oldest_reattempt_leaves_the_window(
    api: ModuleType,
) -> None:
    oldest = timestamps.plus(timestamps.now(), -timedelta(days=20))
    reattempted("card_waits", oldest, 1)
    reattempted("card_waits", timestamps.plus(timestamps.now(), -timedelta(days=2)), 14)
    status, body = retry(api, visa_failure("card_waits"))
    assert (status, body["code"]) == (409, "retry_not_allowed")
    expected = timestamps.display(timestamps.plus(oldest, timedelta(days=30)))
    assert body["retry_allowed_at"] == expected
