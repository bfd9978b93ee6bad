"""A timeout between the processor's answer and the DynamoDB write that settles the retry
(docs/contract.md §2), on DynamoDB Local with the sandbox processor's own ledger: whether the
write was lost or applied before its answer was, the redelivered message asks the processor under
the same idempotency key and charges nobody twice; the PaymentRecovered event, left in the outbox
when the write applied, is published once by the watchdog."""

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from local.sandbox import SandboxLedger
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from payment_action_center.adapters.processors.sandbox import SandboxProcessor
from payment_action_center.app import actions, retry_worker, watchdog
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import AuditEvent, Caller, Entry, Status
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher, RecordingQueue

ADMIN = Caller("org_demo", "user_1", "admin@example.com", frozenset({"billing_admin"}))
DEADLINES = watchdog.Deadlines(credit_card=timedelta(minutes=30), echeck=timedelta(hours=120))


class SettleTimesOut(DynamoEntryStore):
    """The store, but the write that settles the retry times out once: DynamoDB did not answer
    in time, after applying the write (`applied`) or without it."""

    def __init__(self, client: Any, table: str, *, applied: bool) -> None:
        super().__init__(client, table)
        self.applied = applied
        self.timed_out = False

    def transition(self, entry: Entry, event: AuditEvent, **changes: Any) -> None:
        if event.action != "recovered" or self.timed_out:
            return super().transition(entry, event, **changes)
        self.timed_out = True
        if self.applied:
            super().transition(entry, event, **changes)
        raise ReadTimeoutError(endpoint_url="http://dynamodb.ca-central-1.amazonaws.com")


@pytest.mark.parametrize("applied", [False, True], ids=["write-lost", "write-applied"])
def test_a_timeout_after_the_charge_charges_once_on_redelivery(
    dynamodb: tuple[Any, str], applied: bool
) -> None:
    store, billing = DynamoEntryStore(*dynamodb), DynamoBillingStore(*dynamodb)
    sandbox, ledger = SandboxProcessor(*dynamodb), SandboxLedger(*dynamodb)
    body = factories.payment_failed(data__payment_method={"token": "tok_success"})
    entry_id = payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(of=body), body
    ).entry_id
    assert entry_id is not None
    queue = RecordingQueue()
    actions.request_retry(store, queue, ADMIN, entry_id)
    [work] = queue.sent
    bus = RecordingPublisher()

    with pytest.raises(ReadTimeoutError):  # the record fails; SQS delivers it again
        retry_worker.run(work, SettleTimesOut(*dynamodb, applied=applied), billing, sandbox, bus)
    again = retry_worker.run(work, store, billing, sandbox, bus)
    later = timestamps.plus(timestamps.now(), timedelta(minutes=2))
    watchdog.watch(store, RecordingQueue(), sandbox, bus, DEADLINES, later)

    assert again == ("stale" if applied else "recovered")
    assert store.get("org_demo", entry_id).status is Status.RECOVERED
    assert [(c["operation"], c["idempotency_key"]) for c in ledger.calls()] == [
        ("charge", f"{entry_id}:retry:1")
    ]
    assert [e.detail_type for e in bus.events] == ["PaymentRecovered"]
    assert store.outbox(older_than=later) == []
