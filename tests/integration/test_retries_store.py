"""Retries on DynamoDB Local: conditional transitions under races, the PendingRetries index,
the outbox, and the sandbox processor's ledger (its calls read as the local stack reads them)."""

import threading
from datetime import timedelta
from typing import Any

import pytest

from local.sandbox import SandboxLedger
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from payment_action_center.adapters.processors.sandbox import SandboxProcessor
from payment_action_center.app import actions, retry_worker
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import AuditEvent, Caller, Status
from payment_action_center.domain.errors import Conflict
from payment_action_center.ports import ChargeRequest, StoreConflict
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher, RecordingQueue

ADMIN = Caller("org_demo", "user_1", "admin@example.com", frozenset({"billing_admin"}))


@pytest.fixture
def store(dynamodb: tuple[Any, str]) -> DynamoEntryStore:
    return DynamoEntryStore(*dynamodb)


@pytest.fixture
def sandbox(dynamodb: tuple[Any, str]) -> SandboxProcessor:
    return SandboxProcessor(*dynamodb)


@pytest.fixture
def ledger(dynamodb: tuple[Any, str]) -> SandboxLedger:
    return SandboxLedger(*dynamodb)


@pytest.fixture
def billing(dynamodb: tuple[Any, str]) -> DynamoBillingStore:
    return DynamoBillingStore(*dynamodb)


def failure(store: DynamoEntryStore, **overrides: Any) -> str:
    """A failure whose retry, at the sandbox, succeeds."""
    body = factories.payment_failed(
        **({"data__payment_method": {"token": "tok_success"}} | overrides)
    )
    entry_id = payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(of=body), body
    ).entry_id
    assert entry_id is not None
    return entry_id


def test_ten_concurrent_retries_make_one_pending_retry(store: DynamoEntryStore) -> None:
    entry_id = failure(store)
    queue = RecordingQueue()
    outcomes: list[str] = []
    barrier = threading.Barrier(10)

    def click() -> None:
        barrier.wait()
        try:
            actions.request_retry(store, queue, ADMIN, entry_id)
            outcomes.append("202")
        except Conflict:
            outcomes.append("409")

    threads = [threading.Thread(target=click) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["202"] + ["409"] * 9
    assert len(queue.sent) == 1


def test_a_stale_version_is_refused_and_writes_nothing(store: DynamoEntryStore) -> None:
    entry_id = failure(store)
    seen = store.get("org_demo", entry_id)
    actions.request_retry(store, RecordingQueue(), ADMIN, entry_id)  # someone else was faster
    now = timestamps.now()
    with pytest.raises(StoreConflict) as conflict:
        store.transition(seen.dismiss(at=now), AuditEvent(now, "dismissed", ADMIN.actor))
    assert "entry" in conflict.value.failed
    _, audit = store.get_with_audit("org_demo", entry_id)
    assert [a.action for a in audit] == ["received", "retry_requested"]


def test_the_pending_index_holds_only_retries_in_flight(
    store: DynamoEntryStore, sandbox: SandboxProcessor, billing: DynamoBillingStore
) -> None:
    first, second = failure(store), failure(store)
    queue = RecordingQueue()
    actions.request_retry(store, queue, ADMIN, first)
    actions.request_retry(store, queue, ADMIN, second)
    later = timestamps.plus(timestamps.now(), timedelta(seconds=1))
    assert {e.id for e in store.pending_retries(later)} == {first, second}
    retry_worker.run(queue.sent[0], store, billing, sandbox, RecordingPublisher())
    assert [e.id for e in store.pending_retries(later)] == [second]
    assert store.get("org_demo", first).status is Status.RECOVERED


def test_a_worker_killed_after_the_charge_charges_once_when_replayed(
    store: DynamoEntryStore,
    sandbox: SandboxProcessor,
    billing: DynamoBillingStore,
    ledger: SandboxLedger,
) -> None:
    entry_id = failure(store)
    queue = RecordingQueue()
    actions.request_retry(store, queue, ADMIN, entry_id)

    class Killed(BaseException):
        pass

    class DiesAfterCharging(SandboxProcessor):
        def charge(self, request: ChargeRequest) -> Any:
            super().charge(request)
            raise Killed

    with pytest.raises(Killed):
        retry_worker.run(
            queue.sent[0],
            store,
            billing,
            DiesAfterCharging(sandbox._client, sandbox._table),
            RecordingPublisher(),
        )
    bus = RecordingPublisher()
    assert retry_worker.run(queue.sent[0], store, billing, sandbox, bus) == "recovered"
    assert [c["operation"] for c in ledger.calls()] == ["charge"]
    assert [e.detail_type for e in bus.events] == ["PaymentRecovered"]


def test_an_unpublished_event_stays_in_the_outbox_until_published(store: DynamoEntryStore) -> None:
    entry_id = failure(store)
    refusing = RecordingPublisher(refuse=True)
    actions.dismiss(store, refusing, ADMIN, entry_id, "duplicate")
    later = timestamps.plus(timestamps.now(), timedelta(minutes=2))
    [waiting] = store.outbox(older_than=later)
    assert waiting.detail == {
        "transaction_id": entry_id,
        "organization_id": "org_demo",
        "reason": "duplicate",
    }
    store.published([waiting])
    assert store.outbox(older_than=later) == []


def test_the_sandbox_never_charges_twice_for_one_key(
    sandbox: SandboxProcessor, ledger: SandboxLedger
) -> None:
    first = sandbox.charge(factories.charge_request("k1"))
    again = sandbox.charge(factories.charge_request("k1", token="tok_card_declined"))
    assert first == again and first.outcome.value == "succeeded"
    assert [c["outcome"] for c in ledger.calls()] == ["succeeded", "succeeded"]
    assert sandbox.status(factories.charge_request("k1")) == first
    assert sandbox.status(factories.charge_request("unknown")) is None
