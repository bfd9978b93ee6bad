"""No `never_retry` failure reaches the processor through an admin's retry (app/actions.py, the
retry guard of domain/retry_rules.py), whatever the codes a processor or a network sent: the
request is refused (409 `retry_not_allowed`), nothing is queued, nothing is charged. The
automatic path's property is in tests/unit/app/test_auto_retry.py."""

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from payment_action_center.app import actions, retry_worker
from payment_action_center.domain.declines import DeclineClass, guidance
from payment_action_center.domain.entries import (
    PAYMENT_PROCESSOR,
    AuditEvent,
    Caller,
    Entry,
    EntryType,
    Failure,
    Method,
    PaymentKind,
)
from payment_action_center.domain.errors import RetryNotAllowed
from payment_action_center.domain.retry_rules import RetryCaps
from tests.shared import factories
from tests.shared.fakes import (
    InMemoryBillingStore,
    InMemoryEntryStore,
    RecordingPublisher,
    RecordingQueue,
    ScriptedProcessor,
)
from tests.unit.app.test_auto_retry import FAILURES, KINDS

ADMIN = Caller("org_demo", "user_1", "admin@example.com", frozenset({"billing_admin"}))


@settings(max_examples=200, deadline=None)
@given(kinds=st.sampled_from(KINDS), failure=FAILURES)
def test_no_never_retry_entry_reaches_the_processor_by_an_admin_s_retry(
    kinds: tuple[EntryType, PaymentKind, Method], failure: Failure
) -> None:
    entry_type, kind, method = kinds
    entry = replace(factories.entry(), type=entry_type, kind=kind, method=method, failure=failure)
    store, queue = InMemoryEntryStore(), RecordingQueue()
    store.record_failure(entry, received(entry), factories.delivery())
    processor = ScriptedProcessor()
    never = guidance(entry_type, method, failure).decline_class is DeclineClass.NEVER_RETRY
    try:
        actions.request_retry(
            store, queue, ADMIN, entry.id, billing=InMemoryBillingStore(), caps=RetryCaps()
        )
    except RetryNotAllowed:
        assert queue.sent == []
        return
    assert not never, failure
    for work in queue.sent:
        retry_worker.run(work, store, InMemoryBillingStore(), processor, RecordingPublisher())
    assert processor.calls, "an allowed retry is charged"


def test_the_property_can_fail() -> None:
    """Without the guard (no caps given), a stolen card is queued: what the property rules out."""
    entry = replace(factories.entry(), failure=Failure("stolen_card", ""))
    store, queue = InMemoryEntryStore(), RecordingQueue()
    store.record_failure(entry, received(entry), factories.delivery())
    actions.request_retry(store, queue, ADMIN, entry.id)
    assert len(queue.sent) == 1


def received(entry: Entry) -> AuditEvent:
    return AuditEvent(entry.received_at, "received", PAYMENT_PROCESSOR, {})
