"""Retry, dismiss, change payment method and the watchdog, on in-memory fakes (docs/contract.md
§2)."""

from datetime import timedelta
from typing import Any

import pytest

from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.app import actions, results, retry_worker, watchdog
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Caller, Method, Status
from payment_action_center.domain.errors import Conflict, Forbidden, NotFound
from payment_action_center.ports import ChargeOutcome, Operation, ProcessorUnavailable
from tests.shared import factories
from tests.shared.fakes import (
    InMemoryBillingStore,
    InMemoryEntryStore,
    RecordingPublisher,
    RecordingQueue,
    ScriptedProcessor,
)

ADMIN = Caller("org_demo", "user_1", "admin@example.com", frozenset({"billing_admin"}))
READER = Caller("org_demo", "user_2", "reader@example.com", frozenset({"reader"}))
DEADLINES = watchdog.Deadlines(credit_card=timedelta(minutes=30), echeck=timedelta(hours=120))


class World:
    """The fakes of every port, wired as the functions wire the real adapters."""

    def __init__(self) -> None:
        self.store = InMemoryEntryStore()
        self.billing = InMemoryBillingStore()
        self.queue = RecordingQueue()
        self.processor = ScriptedProcessor()
        self.bus = RecordingPublisher()

    def failure(self, body: dict[str, Any] | None = None, **overrides: Any) -> str:
        """A failure delivered by webhook (a payment's unless `body` says otherwise): its entry."""
        body = body or factories.payment_failed(**overrides)
        result = payment_webhook.handle_payment_event(
            self.store, self.bus, factories.delivery(of=body), body
        )
        assert result.entry_id is not None
        return result.entry_id

    def entry(self, entry_id: str) -> Any:
        return self.store.get("org_demo", entry_id)

    def actions(self, entry_id: str) -> list[str]:
        return [event.action for event in self.store.audit[("org_demo", entry_id)]]

    def work(self) -> str:
        """Run every queued message once, as the worker would."""
        outcomes = []
        while self.queue.sent:
            work = self.queue.sent.pop(0)
            outcomes.append(
                retry_worker.run(work, self.store, self.billing, self.processor, self.bus)
            )
        return ",".join(outcomes)

    def watch(self, after: timedelta) -> dict[str, int]:
        now = timestamps.plus(timestamps.now(), after)
        return watchdog.watch(self.store, self.queue, self.processor, self.bus, DEADLINES, now)


@pytest.fixture
def world() -> World:
    return World()


def test_a_retry_goes_pending_at_once_and_queues_its_work(world: World) -> None:
    entry_id = world.failure()
    pending = actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    assert pending.status is Status.RETRY_PENDING
    assert [w.entry_id for w in world.queue.sent] == [entry_id]
    assert world.actions(entry_id) == ["received", "retry_requested"]
    assert world.store.audit[("org_demo", entry_id)][-1].actor.email == "admin@example.com"


@pytest.mark.parametrize(
    ("caller", "error"),
    [(READER, Forbidden), (Caller("org_other", "u", None, frozenset({"billing_admin"})), NotFound)],
)
def test_only_an_admin_of_the_organization_retries(
    world: World, caller: Caller, error: type
) -> None:
    entry_id = world.failure()
    with pytest.raises(error):
        actions.request_retry(world.store, world.queue, caller, entry_id)
    assert world.entry(entry_id).status is Status.FAILED
    assert world.queue.sent == []


def test_a_second_retry_while_one_is_in_flight_is_a_conflict(world: World) -> None:
    entry_id = world.failure()
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    with pytest.raises(Conflict):
        actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    assert len(world.queue.sent) == 1


def test_a_successful_retry_recovers_and_reconciles_the_invoice_items(world: World) -> None:
    entry_id = world.failure()
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    assert world.work() == "recovered"
    entry = world.entry(entry_id)
    assert entry.status is Status.RECOVERED
    [event] = world.bus.events
    assert event.detail_type == "PaymentRecovered"
    assert event.detail["payment_id"] == entry.recovered_payment_id
    assert event.detail["allocation"] == [
        {"invoice_id": i.invoice_id, "item_id": i.item_id, "amount": i.amount}
        for i in entry.invoice_items
    ]
    assert sum(a["amount"] for a in event.detail["allocation"]) == entry.amount
    assert world.store.outbox_events == []  # published, then forgotten
    assert world.actions(entry_id) == ["received", "retry_requested", "charge_sent", "recovered"]


def test_second_failure_reappears_with_attempt_two(world: World) -> None:
    entry_id = world.failure(occurred_at="2026-11-20T10:00:00Z")
    world.processor.script = [ChargeOutcome.FAILED]
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    assert world.work() == "failed_again"
    entry = world.entry(entry_id)
    assert (entry.status, entry.attempts) == (Status.FAILED, 2)
    assert entry.failed_at > "2026-11-20T10:00:00.000000000Z"
    assert len(world.store.failure_log) == 2  # in the next digest again
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    world.work()
    keys = [request.idempotency_key for request in world.processor.calls]
    assert keys == [f"{entry_id}:retry:1", f"{entry_id}:retry:2"]


def test_a_timeout_is_unknown_never_failed_and_asks_again_under_the_same_key(world: World) -> None:
    entry_id = world.failure()
    world.processor.script = ["timeout"]
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    work = world.queue.sent[0]
    with pytest.raises(ProcessorUnavailable):
        world.work()
    assert world.entry(entry_id).status is Status.RETRY_PENDING
    # SQS brings the message back: the worker asks for the status, then sends under the key.
    outcome = retry_worker.run(work, world.store, world.billing, world.processor, world.bus)
    assert outcome == "recovered"
    # It asks with the request it sends again: same key, same organization, same payment.
    first, again = world.processor.calls
    assert world.processor.status_calls == [again] and again == first
    assert again.idempotency_key == f"{entry_id}:retry:1"
    assert world.processor.charges == 1


def test_a_processor_5xx_leaves_the_retry_pending_and_the_next_delivery_charges_once(
    world: World,
) -> None:
    entry_id = world.failure()
    world.processor.script = ["error"]
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    work = world.queue.sent[0]
    with pytest.raises(ProcessorUnavailable):
        world.work()
    assert world.entry(entry_id).status is Status.RETRY_PENDING
    assert world.actions(entry_id)[-1] == "charge_sent"
    # The request never reached the ledger: the redelivery sends it under the same key.
    assert (
        retry_worker.run(work, world.store, world.billing, world.processor, world.bus)
        == "recovered"
    )
    assert world.processor.charges == 1
    assert {r.idempotency_key for r in world.processor.calls} == {f"{entry_id}:retry:1"}


def test_a_worker_killed_after_the_charge_and_replayed_charges_once(world: World) -> None:
    entry_id = world.failure()
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    work = world.queue.sent[0]

    class Killed(BaseException):
        pass

    charge = world.processor.charge

    def charge_then_die(request: Any) -> Any:
        charge(request)
        raise Killed

    world.processor.charge = charge_then_die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        retry_worker.run(work, world.store, world.billing, world.processor, world.bus)
    world.processor.charge = charge  # type: ignore[method-assign]
    assert (
        retry_worker.run(work, world.store, world.billing, world.processor, world.bus)
        == "recovered"
    )
    assert world.processor.charges == 1 and len(world.processor.calls) == 1


def test_the_same_message_delivered_twice_charges_once(world: World) -> None:
    entry_id = world.failure()
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    work = world.queue.sent[0]
    first = retry_worker.run(work, world.store, world.billing, world.processor, world.bus)
    second = retry_worker.run(work, world.store, world.billing, world.processor, world.bus)
    assert (first, second) == ("recovered", "stale")
    assert len(world.processor.calls) == 1


def test_a_scheduled_payment_method_changed_after_the_failure_is_charged(world: World) -> None:
    entry_id = world.failure(occurred_at="2026-11-20T10:00:00Z", data__scheduled_payment_id="sp_9")
    changed = factories.scheduled_payment_upserted(
        occurred_at="2026-11-21T10:00:00Z",
        data__scheduled_payment_id="sp_9",
        data__payment_method={"token": "tok_new_card", "card_id": "card_new"},
    )
    billing_webhook.handle_billing_event(world.billing, factories.billing_delivery(), changed)
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    world.work()
    assert world.processor.calls[0].token == "tok_new_card"
    # A recovery by the changed method (domain/recovery.py, "payment_method_changed").
    retry = world.entry(entry_id).retry
    assert retry is not None and retry.method_changed


def test_the_same_card_saved_again_is_charged_but_is_no_method_change(world: World) -> None:
    """A new token for the card that failed (the same card id) is charged, and its recovery is
    not "payment_method_changed" (the retry rules hold it for the same card, too)."""
    entry_id = world.failure(
        occurred_at="2026-11-20T10:00:00Z",
        data__scheduled_payment_id="sp_7",
        data__payment_method={"token": "tok_first", "card_id": "card_same"},
    )
    saved_again = factories.scheduled_payment_upserted(
        occurred_at="2026-11-21T10:00:00Z",
        data__scheduled_payment_id="sp_7",
        data__payment_method={"token": "tok_saved_again", "card_id": "card_same"},
    )
    billing_webhook.handle_billing_event(world.billing, factories.billing_delivery(), saved_again)
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    world.work()
    assert world.processor.calls[0].token == "tok_saved_again"
    retry = world.entry(entry_id).retry
    assert retry is not None and not retry.method_changed


def test_a_method_known_before_the_failure_is_not_newer(world: World) -> None:
    older = factories.scheduled_payment_upserted(
        occurred_at="2026-11-19T10:00:00Z",
        data__scheduled_payment_id="sp_8",
        data__payment_method={"token": "tok_old_card"},
    )
    billing_webhook.handle_billing_event(world.billing, factories.billing_delivery(), older)
    entry_id = world.failure(occurred_at="2026-11-20T10:00:00Z", data__scheduled_payment_id="sp_8")
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    world.work()
    assert world.processor.calls[0].token == world.entry(entry_id).payment_method.token
    retry = world.entry(entry_id).retry
    assert retry is not None and not retry.method_changed


def test_a_refund_retry_refunds(world: World) -> None:
    entry_id = world.failure(factories.refund_failed())
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    world.work()
    assert world.processor.calls[0].operation.value == "refund"


def settle(world: World, entry_id: str, outcome: str, **overrides: Any) -> results.Result:
    """The processor's settlement webhook for the payment the pending retry made."""
    entry = world.entry(entry_id)
    payment_id = entry.retry.processor_payment_id if entry.retry else None
    body = factories.payment_failed(
        **{
            "type": f"payment.{outcome}",
            "data__retry_of": entry_id,
            "data__payment_id": payment_id or "pay_unknown",
            "data__method": "echeck",
        }
        | overrides
    )
    if outcome == "succeeded":
        body["data"].pop("failure")
    return payment_webhook.handle_payment_event(
        world.store, world.bus, factories.delivery(of=body), body
    )


def echeck_pending(world: World) -> str:
    entry_id = world.failure(data__method="echeck", data__kind="subscription")
    world.processor.script = [ChargeOutcome.PENDING]
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    assert world.work() == "pending"
    return entry_id


def test_an_echeck_retry_stays_pending_until_the_webhook_settles_it(world: World) -> None:
    entry_id = echeck_pending(world)
    assert world.entry(entry_id).status is Status.RETRY_PENDING
    result = settle(world, entry_id, "succeeded", occurred_at="2030-01-01T00:00:00Z")
    assert result.outcome is results.Outcome.ACCEPTED
    assert world.entry(entry_id).status is Status.RECOVERED
    assert world.bus.events[-1].detail["payment_id"] == world.entry(entry_id).recovered_payment_id


def test_a_returned_echeck_comes_back_failed_at_its_occurred_at(world: World) -> None:
    entry_id = echeck_pending(world)
    settle(world, entry_id, "failed", occurred_at="2030-01-02T03:04:05Z")
    entry = world.entry(entry_id)
    assert (entry.status, entry.attempts) == (Status.FAILED, 2)
    assert entry.failed_at == "2030-01-02T03:04:05.000000000Z"


def test_a_settlement_for_an_entry_not_pending_changes_nothing(world: World) -> None:
    entry_id = world.failure()
    before = world.entry(entry_id)
    assert settle(world, entry_id, "succeeded").outcome is results.Outcome.IGNORED
    assert world.entry(entry_id) == before


def test_an_older_settlement_does_not_roll_state_back(world: World) -> None:
    entry_id = echeck_pending(world)
    assert settle(world, entry_id, "succeeded", occurred_at="2000-01-01T00:00:00Z").outcome is (
        results.Outcome.IGNORED
    )
    assert world.entry(entry_id).status is Status.RETRY_PENDING


def test_the_watchdog_resends_lost_work_and_flags_what_stays_pending(world: World) -> None:
    lost = world.failure()
    actions.request_retry(world.store, world.queue, ADMIN, lost)
    world.queue.sent.clear()  # the message never made it
    assert world.watch(timedelta(minutes=10)) == {}  # before the deadline: nothing
    assert world.watch(timedelta(minutes=31)) == {"resent": 1}
    assert world.work() == "recovered"

    stuck = world.failure(data__method="echeck", data__kind="subscription")
    world.processor.script = [ChargeOutcome.PENDING]
    actions.request_retry(world.store, world.queue, ADMIN, stuck)
    world.work()
    assert world.watch(timedelta(hours=121)) == {"flagged": 1}
    assert world.entry(stuck).retry.needs_attention
    assert world.watch(timedelta(hours=122)) == {"needs_attention": 1}  # flagged once
    assert world.actions(stuck)[-1] == "needs_attention"


def test_the_watchdog_settles_what_the_processor_knows(world: World) -> None:
    entry_id = world.failure()
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    work = world.queue.sent.pop()
    world.processor.script = ["timeout"]
    with pytest.raises(ProcessorUnavailable):
        retry_worker.run(work, world.store, world.billing, world.processor, world.bus)
    world.processor.ledger[f"{entry_id}:retry:1"] = world.processor.charge(
        retry_worker.charge_request(world.entry(entry_id), world.billing)
    )
    assert world.watch(timedelta(minutes=31)) == {"recovered": 1}


def test_dismiss_keeps_the_entry_with_who_and_why(world: World) -> None:
    entry_id = world.failure()
    dismissed = actions.dismiss(world.store, world.bus, ADMIN, entry_id, "paid by cheque")
    assert dismissed.status is Status.DISMISSED
    assert world.store.audit[("org_demo", entry_id)][-1].detail == {"reason": "paid by cheque"}
    assert world.bus.events[0].detail_type == "TransactionDismissed"
    assert world.bus.events[0].detail["reason"] == "paid by cheque"
    with pytest.raises(Conflict):
        actions.dismiss(world.store, world.bus, ADMIN, entry_id, None)


def test_an_event_whose_publish_fails_waits_in_the_outbox_for_the_watchdog(world: World) -> None:
    entry_id = world.failure()
    world.bus.refuse = True
    actions.dismiss(world.store, world.bus, ADMIN, entry_id, None)
    assert world.bus.events == [] and len(world.store.outbox_events) == 1
    world.bus.refuse = False
    assert world.watch(timedelta(minutes=2)) == {"republished": 1}
    assert [e.detail_type for e in world.bus.events] == ["TransactionDismissed"]
    assert world.store.outbox_events == []


def test_a_pending_or_dismissed_entry_cannot_be_dismissed(world: World) -> None:
    entry_id = world.failure()
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    with pytest.raises(Conflict):
        actions.dismiss(world.store, world.bus, ADMIN, entry_id, None)


def test_the_payment_method_link_for_scheduled_payments(world: World) -> None:
    billing_webhook.handle_billing_event(
        world.billing, factories.billing_delivery(), factories.organization_upserted()
    )
    entry_id = world.failure(data__account_holder__id="ah:42")
    url = actions.payment_method_link(world.store, world.billing, READER, entry_id)
    assert "ah%3A42" in url and url.startswith("https://")


def test_no_link_for_a_refund_and_the_reason_says_why(world: World) -> None:
    billing_webhook.handle_billing_event(
        world.billing, factories.billing_delivery(), factories.organization_upserted()
    )
    entry_id = world.failure(factories.refund_failed())
    with pytest.raises(Conflict, match="lacked funds"):
        actions.payment_method_link(world.store, world.billing, READER, entry_id)


def test_a_late_settlement_of_another_payment_does_not_settle_the_current_retry(
    world: World,
) -> None:
    entry_id = echeck_pending(world)
    late = settle(
        world,
        entry_id,
        "failed",
        data__payment_id="pay_of_attempt_one",
        occurred_at="2030-01-01T00:00:00Z",
    )
    assert late.outcome is results.Outcome.IGNORED
    assert world.entry(entry_id).status is Status.RETRY_PENDING


def test_the_deadline_follows_the_method_actually_charged(world: World) -> None:
    entry_id = world.failure(occurred_at="2026-11-20T10:00:00Z", data__scheduled_payment_id="sp_5")
    moved = factories.scheduled_payment_upserted(
        occurred_at="2026-11-21T10:00:00Z",
        data__scheduled_payment_id="sp_5",
        data__method="echeck",
        data__payment_method={"token": "tok_echeck_pending"},
    )
    billing_webhook.handle_billing_event(world.billing, factories.billing_delivery(), moved)
    world.processor.script = [ChargeOutcome.PENDING]
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    world.work()
    assert world.watch(timedelta(hours=2)) == {}  # an e-check has days, not 30 minutes
    assert world.watch(timedelta(hours=121)) == {"flagged": 1}
    # The watchdog asked under the key sent, for the method charged, from the entry alone.
    [sent] = world.processor.calls
    [asked] = world.processor.status_calls
    assert (asked.idempotency_key, asked.operation, asked.method) == (
        sent.idempotency_key,
        sent.operation,
        Method.ECHECK,
    )
    assert asked.metadata == sent.metadata
    assert asked.token == world.entry(entry_id).payment_method.token != sent.token


def test_the_watchdog_asks_a_refunds_status_with_the_payment_it_refunds(world: World) -> None:
    body = factories.refund_failed()
    entry_id = world.failure(body)
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    work = world.queue.sent.pop()
    world.processor.script = ["timeout"]
    with pytest.raises(ProcessorUnavailable):
        retry_worker.run(work, world.store, world.billing, world.processor, world.bus)
    assert world.watch(timedelta(minutes=31)) == {"resent": 1}  # nothing recorded under the key
    [asked] = world.processor.status_calls
    assert asked.operation is Operation.REFUND
    assert asked.idempotency_key == f"{entry_id}:retry:1"
    assert asked.metadata["organization_id"] == "org_demo"
    assert asked.metadata["payment_id"] == body["data"]["payment_id"]
    assert asked == world.processor.calls[0]


def test_the_request_names_the_failed_payment_it_retries(world: World) -> None:
    entry_id = world.failure(data__payment_id="pay_failed_7")
    actions.request_retry(world.store, world.queue, ADMIN, entry_id)
    request = retry_worker.charge_request(world.entry(entry_id), world.billing)
    assert request.metadata["payment_id"] == "pay_failed_7"
    assert request.metadata["organization_id"] == "org_demo"
    assert retry_worker.status_request(world.entry(entry_id)) == request


def test_a_failing_outbox_cleanup_does_not_fail_a_committed_change(world: World) -> None:
    entry_id = world.failure()

    def broken(events: Any) -> None:
        raise RuntimeError("AccessDenied")

    world.store.published = broken  # type: ignore[method-assign]
    actions.dismiss(world.store, world.bus, ADMIN, entry_id, None)
    assert world.entry(entry_id).status is Status.DISMISSED
    assert [e.detail_type for e in world.bus.events] == ["TransactionDismissed"]
