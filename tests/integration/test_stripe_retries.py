"""Whole retries through the Stripe processor: the admin's request, the worker, the watchdog and
the settlement (app/actions.py, app/retry_worker.py, app/watchdog.py) with the real SDK against
the fake Stripe API (local/fake_stripe.py). Under every fault a retry meets, the connected
account gets exactly one PaymentIntent, and the entry ends as Stripe says."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from local.fake_stripe import API_KEY, FakeStripe, running
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.adapters.processors.stripe_processor import StripeProcessor
from payment_action_center.app import actions, retry_worker, watchdog
from payment_action_center.app.work import RetryWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Caller, Status
from payment_action_center.ports import ProcessorUnavailable
from tests.shared import factories
from tests.shared.fakes import (
    InMemoryBillingStore,
    InMemoryEntryStore,
    RecordingPublisher,
    RecordingQueue,
)

ACCOUNT = "acct_1OrgDemo"
ADMIN = Caller("org_demo", "user_1", "admin@example.com", frozenset({"billing_admin"}))
DEADLINES = watchdog.Deadlines(credit_card=timedelta(minutes=30), echeck=timedelta(hours=120))


class Retries:
    """The ports wired as the functions wire them, with the Stripe processor on the fake."""

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake
        self.store = InMemoryEntryStore()
        self.billing = InMemoryBillingStore()
        self.queue = RecordingQueue()
        self.bus = RecordingPublisher()
        body = factories.organization_upserted(data__processor_account_id=ACCOUNT)
        billing_webhook.handle_billing_event(self.billing, factories.delivery(of=body), body)

        # Production's SDK retries (2) and a short timeout: a lost answer costs seconds here.
        self.processor = StripeProcessor(lambda: API_KEY, api_base=fake.url, timeout_seconds=1.0)

    def failure(self, token: str, **overrides: Any) -> str:
        body = factories.payment_failed(
            data__payment_method={"token": token, "customer_id": "cus_demo"}, **overrides
        )
        result = payment_webhook.handle_payment_event(
            self.store, self.bus, factories.delivery(of=body), body
        )
        assert result.entry_id is not None
        return result.entry_id

    def request(self, entry_id: str) -> RetryWork:
        actions.request_retry(self.store, self.queue, ADMIN, entry_id, accounts=self.billing)
        return self.queue.sent.pop()

    def work(self, work: RetryWork) -> str:
        return retry_worker.run(work, self.store, self.billing, self.processor, self.bus)

    def watch(self, after: timedelta) -> dict[str, int]:
        now = timestamps.plus(timestamps.now(), after)
        return watchdog.watch(self.store, self.queue, self.processor, self.bus, DEADLINES, now)

    def entry(self, entry_id: str) -> Any:
        return self.store.get("org_demo", entry_id)

    def intents(self) -> list[dict[str, Any]]:
        return self.fake.created("payment_intent")


@pytest.fixture
def retries() -> Iterator[Retries]:
    with running(FakeStripe(search_lag=60.0, hang_seconds=3.0)) as fake:
        yield Retries(fake)


def test_a_recovered_retry_is_one_payment_intent_on_the_account_with_its_key(
    retries: Retries,
) -> None:
    entry_id = retries.failure("pm_card_visa")

    assert retries.work(retries.request(entry_id)) == "recovered"

    [intent] = retries.intents()
    assert intent["_account"] == ACCOUNT
    assert [(c.method, c.account) for c in retries.fake.calls] == [("POST", ACCOUNT)]
    assert intent["metadata"]["idempotency_key"] == f"{entry_id}:retry:1"
    assert intent["metadata"]["retry_of"] == entry_id
    assert intent["customer"] == "cus_demo"
    assert retries.entry(entry_id).status is Status.RECOVERED


def test_a_decline_comes_back_failed_with_stripes_decline_code(retries: Retries) -> None:
    entry_id = retries.failure("pm_card_chargeDeclinedInsufficientFunds")

    assert retries.work(retries.request(entry_id)) == "failed_again"

    entry = retries.entry(entry_id)
    assert (entry.status, entry.attempts, entry.failure.code) == (
        Status.FAILED,
        2,
        "insufficient_funds",
    )
    assert len(retries.intents()) == 1


def test_a_lost_answer_then_a_redelivery_within_the_search_lag_charges_once(
    retries: Retries,
) -> None:
    """The charge arrived, its answer (and the SDK's retries' answers) were lost: the message
    comes back while Search has not indexed it; status says None, the resend replays the key."""
    entry_id = retries.failure("pm_card_visa")
    work = retries.request(entry_id)
    retries.fake.fail_next(3, "timeout")

    with pytest.raises(ProcessorUnavailable):
        retries.work(work)
    assert retries.entry(entry_id).status is Status.RETRY_PENDING

    assert retries.work(work) == "recovered"
    assert len(retries.intents()) == 1
    # The Stripe calls of this retry: three tries of the create (the SDK's two retries), then a
    # search that finds nothing yet and the create replayed under the same key.
    assert calls(retries) == ["POST", "POST", "POST", "GET search", "POST"]


def calls(retries: Retries) -> list[str]:
    return [
        c.method if c.method == "POST" else f"GET {c.path.rsplit('/', 1)[-1]}"
        for c in retries.fake.calls
    ]


def test_a_lost_answer_found_by_search_after_the_lag_is_never_sent_again(
    retries: Retries,
) -> None:
    entry_id = retries.failure("pm_card_visa")
    work = retries.request(entry_id)
    retries.fake.fail_next(3, "timeout")
    with pytest.raises(ProcessorUnavailable):
        retries.work(work)
    retries.fake.advance(61)
    posts = sum(c.method == "POST" for c in retries.fake.calls)

    assert retries.work(work) == "recovered"

    assert sum(c.method == "POST" for c in retries.fake.calls) == posts  # a search, no create
    assert calls(retries) == ["POST", "POST", "POST", "GET search"]
    assert len(retries.intents()) == 1


def test_rate_limits_and_server_errors_are_retried_under_the_same_key(retries: Retries) -> None:
    """A 500 is retried by the SDK within the call; a 429 is not (Stripe's SDKs leave rate
    limits to the caller): the message comes back, and its next delivery charges."""
    entry_id = retries.failure("pm_card_visa")
    work = retries.request(entry_id)
    retries.fake.fail_next(1, "server_error")
    retries.fake.fail_next(1, "rate_limit")

    with pytest.raises(ProcessorUnavailable, match="RateLimitError"):
        retries.work(work)
    assert retries.work(work) == "recovered"

    keys = {c.idempotency_key for c in retries.fake.calls if c.method == "POST"}
    assert keys == {f"{entry_id}:retry:1"}
    assert len(retries.intents()) == 1


def test_the_same_message_twice_charges_once(retries: Retries) -> None:
    entry_id = retries.failure("pm_card_visa")
    work = retries.request(entry_id)

    assert retries.work(work) == "recovered"
    assert retries.work(work) == "stale"
    assert len(retries.intents()) == 1


def test_a_resend_after_the_method_changed_never_charges_the_new_one(retries: Retries) -> None:
    """The answer was lost; meanwhile the customer changed the scheduled payment's method. The
    resend under the same key with the new method is refused by Stripe (idempotency_error): the
    outcome stays unknown until Search finds the first PaymentIntent, which settles it."""
    entry_id = retries.failure("pm_card_visa")
    work = retries.request(entry_id)
    retries.fake.fail_next(3, "timeout")
    with pytest.raises(ProcessorUnavailable):
        retries.work(work)
    change = factories.scheduled_payment_upserted(
        occurred_at=timestamps.now(),
        data__scheduled_payment_id=retries.entry(entry_id).scheduled_payment_id,
        data__payment_method={"token": "pm_card_chargeDeclined"},
    )
    billing_webhook.handle_billing_event(retries.billing, factories.delivery(of=change), change)

    with pytest.raises(ProcessorUnavailable, match="another request"):
        retries.work(work)
    retries.fake.advance(61)

    assert retries.work(work) == "recovered"
    [intent] = retries.intents()
    assert intent["payment_method"] == "pm_card_visa"


def test_a_bank_debit_stays_pending_until_stripe_settles_it(retries: Retries) -> None:
    entry_id = retries.failure(
        "pm_usBankAccount_processing", data__method="echeck", data__kind="subscription"
    )

    assert retries.work(retries.request(entry_id)) == "pending"
    assert retries.entry(entry_id).status is Status.RETRY_PENDING
    retries.fake.advance(61)
    assert retries.watch(timedelta(hours=121)) == {"flagged": 1}  # still processing at Stripe

    [intent] = retries.intents()
    assert retries.fake.settle(intent["id"], "succeeded") is not None
    assert retries.watch(timedelta(hours=122)) == {"recovered": 1}
    assert retries.entry(entry_id).status is Status.RECOVERED
    assert len(retries.intents()) == 1


def test_an_account_changed_after_a_lost_answer_is_never_charged_again(
    retries: Retries,
) -> None:
    """Stripe keeps idempotency keys per account: the lookup and any resend go to the account
    the charge was sent on, never to the organization's new one."""
    entry_id = retries.failure("pm_card_visa")
    work = retries.request(entry_id)
    retries.fake.fail_next(3, "timeout")
    with pytest.raises(ProcessorUnavailable):
        retries.work(work)
    moved = factories.organization_upserted(
        occurred_at=timestamps.now(), data__processor_account_id="acct_1NewAccount"
    )
    billing_webhook.handle_billing_event(retries.billing, factories.delivery(of=moved), moved)

    assert retries.work(work) == "recovered"
    retries.fake.advance(61)
    assert retries.watch(timedelta(minutes=31)) == {}

    [intent] = retries.intents()
    assert intent["_account"] == ACCOUNT
    assert {c.account for c in retries.fake.calls} == {ACCOUNT}
    [sent] = [e for e in retries.store.audit[("org_demo", entry_id)] if e.action == "charge_sent"]
    assert sent.detail["processor_account"] == ACCOUNT


def test_lost_work_is_resent_by_the_watchdog_and_charged_once(retries: Retries) -> None:
    entry_id = retries.failure("pm_card_visa")
    retries.request(entry_id)  # the message is lost: never worked

    assert retries.watch(timedelta(minutes=31)) == {"resent": 1}
    assert retries.work(retries.queue.sent.pop()) == "recovered"
    assert len(retries.intents()) == 1
