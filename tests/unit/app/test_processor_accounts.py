"""A processor that charges each organization's own account (Stripe Connect): a retry of an
organization without one is refused at once (app/actions.py), and a processor that refuses to act
is an alarm that leaves the retry pending until the watchdog flags it (app/watchdog.py), never a
failure of the customer's payment."""

from datetime import timedelta

import pytest

from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.app import actions, retry_worker, watchdog
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import (
    RETRY_WORKER,
    AuditEvent,
    Caller,
    Method,
    Status,
)
from payment_action_center.domain.errors import Conflict
from payment_action_center.ports import ChargeRequest, ChargeResult, ProcessorRefused
from tests.shared import factories
from tests.shared.fakes import (
    InMemoryBillingStore,
    InMemoryEntryStore,
    RecordingPublisher,
    RecordingQueue,
    ScriptedProcessor,
)

ADMIN = Caller("org_demo", "user_1", "admin@example.com", frozenset({"billing_admin"}))
DEADLINES = watchdog.Deadlines(credit_card=timedelta(minutes=30), echeck=timedelta(hours=120))


class RefusingProcessor:
    """A processor whose access was revoked: every call refused, nothing sent."""

    def __init__(self) -> None:
        self.calls = 0

    def _refuse(self, request: ChargeRequest) -> ChargeResult:
        self.calls += 1
        raise ProcessorRefused(f"access to the account of {request.metadata['organization_id']}")

    charge = refund = _refuse

    def status(self, request: ChargeRequest) -> ChargeResult | None:
        return self._refuse(request)


@pytest.fixture
def store() -> InMemoryEntryStore:
    return InMemoryEntryStore()


@pytest.fixture
def billing() -> InMemoryBillingStore:
    return InMemoryBillingStore()


def failed_entry(store: InMemoryEntryStore) -> str:
    body = factories.payment_failed()
    result = payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(of=body), body
    )
    assert result.entry_id is not None
    return result.entry_id


def upsert(billing: InMemoryBillingStore, account: str | None, occurred_at: str) -> None:
    body = factories.organization_upserted(
        occurred_at=occurred_at, data__processor_account_id=account
    )
    billing_webhook.handle_billing_event(billing, factories.delivery(of=body), body)


def test_a_retry_of_an_organization_without_settings_is_a_conflict_that_changes_nothing(
    store: InMemoryEntryStore, billing: InMemoryBillingStore
) -> None:
    entry_id = failed_entry(store)
    queue = RecordingQueue()

    with pytest.raises(Conflict, match="processor_account_id"):
        actions.request_retry(store, queue, ADMIN, entry_id, accounts=billing)

    assert store.get("org_demo", entry_id).status is Status.FAILED
    assert [e.action for e in store.audit[("org_demo", entry_id)]] == ["received"]
    assert queue.sent == []


def test_a_retry_of_an_organization_whose_account_was_removed_is_a_conflict(
    store: InMemoryEntryStore, billing: InMemoryBillingStore
) -> None:
    entry_id = failed_entry(store)
    upsert(billing, "acct_1OrgDemo", "2026-11-20T12:00:00Z")
    upsert(billing, None, "2026-11-21T12:00:00Z")

    with pytest.raises(Conflict, match="no account at the payment processor"):
        actions.request_retry(store, RecordingQueue(), ADMIN, entry_id, accounts=billing)


def test_a_retry_of_an_organization_with_an_account_is_queued(
    store: InMemoryEntryStore, billing: InMemoryBillingStore
) -> None:
    entry_id = failed_entry(store)
    upsert(billing, "acct_1OrgDemo", "2026-11-20T12:00:00Z")
    queue = RecordingQueue()

    pending = actions.request_retry(store, queue, ADMIN, entry_id, accounts=billing)

    assert pending.status is Status.RETRY_PENDING
    assert [w.entry_id for w in queue.sent] == [entry_id]


def test_without_a_per_account_processor_the_settings_are_not_needed(
    store: InMemoryEntryStore,
) -> None:
    entry_id = failed_entry(store)
    pending = actions.request_retry(store, RecordingQueue(), ADMIN, entry_id)
    assert pending.status is Status.RETRY_PENDING


def test_a_refusing_processor_leaves_the_retry_pending_and_the_watchdog_flags_it(
    store: InMemoryEntryStore, billing: InMemoryBillingStore
) -> None:
    entry_id = failed_entry(store)
    failure = store.get("org_demo", entry_id).failure
    queue = RecordingQueue()
    actions.request_retry(store, queue, ADMIN, entry_id)
    processor = RefusingProcessor()
    work = queue.sent.pop()

    for _ in range(2):  # the first receive and a redelivery: refused, nothing settled
        with pytest.raises(ProcessorRefused):
            retry_worker.run(work, store, billing, processor, RecordingPublisher())
        entry = store.get("org_demo", entry_id)
        assert entry.status is Status.RETRY_PENDING
        assert entry.attempts == 1

    now = timestamps.plus(timestamps.now(), timedelta(minutes=31))
    done = watchdog.watch(store, queue, processor, RecordingPublisher(), DEADLINES, now)

    assert done == {"flagged": 1}
    flagged = store.get("org_demo", entry_id)
    assert flagged.retry is not None
    assert flagged.retry.needs_attention is not None
    assert flagged.retry.needs_attention == watchdog.REFUSED  # the details: the log's
    assert (flagged.failure, flagged.attempts) == (failure, 1)  # the customer's, untouched
    assert [e.action for e in store.audit[("org_demo", entry_id)]][-1] == "needs_attention"


class BrokenProcessor(RefusingProcessor):
    """A status lookup that fails in a way no port exception names (a bug, a library's error)."""

    def status(self, request: ChargeRequest) -> ChargeResult | None:
        raise KeyError("something unexpected")


def test_an_unexpected_error_flags_that_entry_and_the_watchdog_checks_the_others(
    store: InMemoryEntryStore, billing: InMemoryBillingStore
) -> None:
    queue = RecordingQueue()
    broken, lost = failed_entry(store), failed_entry(store)
    actions.request_retry(store, queue, ADMIN, broken)
    queue.sent.clear()  # worked: its charge is marked as sent below
    marked = store.get("org_demo", broken).charge_sent(timestamps.now(), Method.CREDIT_CARD)
    store.transition(marked, AuditEvent(timestamps.now(), "charge_sent", RETRY_WORKER, {}))
    actions.request_retry(store, queue, ADMIN, lost)
    queue.sent.clear()  # never worked: the watchdog sends it again

    now = timestamps.plus(timestamps.now(), timedelta(minutes=31))
    done = watchdog.watch(store, queue, BrokenProcessor(), RecordingPublisher(), DEADLINES, now)

    assert done == {"flagged": 1, "resent": 1}
    flagged = store.get("org_demo", broken).retry
    assert flagged is not None and flagged.needs_attention == watchdog.UNCHECKED
    assert [w.entry_id for w in queue.sent] == [lost]


def test_a_charge_the_processor_never_saw_is_sent_again_once_then_flagged(
    store: InMemoryEntryStore, billing: InMemoryBillingStore
) -> None:
    """Sent (marked) but unknown to the processor: sent again at the deadline; still unknown at
    twice the deadline, flagged rather than sent every 15 minutes for ever."""
    entry_id = failed_entry(store)
    queue = RecordingQueue()
    actions.request_retry(store, queue, ADMIN, entry_id)
    queue.sent.clear()
    marked = store.get("org_demo", entry_id).charge_sent(timestamps.now(), Method.CREDIT_CARD)
    store.transition(marked, AuditEvent(timestamps.now(), "charge_sent", RETRY_WORKER, {}))
    nothing = ScriptedProcessor()  # its ledger has no trace of the key

    def watch(after: timedelta) -> dict[str, int]:
        now = timestamps.plus(timestamps.now(), after)
        return watchdog.watch(store, queue, nothing, RecordingPublisher(), DEADLINES, now)

    assert watch(timedelta(minutes=31)) == {"resent": 1}
    assert watch(timedelta(minutes=61)) == {"flagged": 1}
    retry = store.get("org_demo", entry_id).retry
    assert retry is not None and retry.needs_attention == watchdog.NEVER_ARRIVED
    assert len(queue.sent) == 1
