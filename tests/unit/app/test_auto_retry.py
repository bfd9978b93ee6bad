"""The automatic retry policy's use case (app/auto_retry.py) on moto's DynamoDB with the real
stores: which entries a watchdog run retries, when, as whom, and that a run repeated or caught up
retries nothing twice; the rules' refusals (a wait, a cap); the policy as a billing admin sets it.
Then a property, on the in-memory stores: no entry that is not a soft decline, and none past a
cap, ever reaches the retry queue automatically."""

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.policy_store import DynamoRetryPolicyStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.app import auto_retry, retry_worker
from payment_action_center.domain import timestamps
from payment_action_center.domain.auto_retry import RetryPolicy
from payment_action_center.domain.declines import DeclineClass, guidance
from payment_action_center.domain.entries import (
    AUTO_RETRY,
    Caller,
    EntryType,
    Failure,
    Method,
    Network,
    PaymentKind,
    Status,
)
from payment_action_center.domain.errors import Forbidden, InvalidPayload
from payment_action_center.domain.retry_rules import RetryCaps
from payment_action_center.ports import ChargeOutcome
from tests.shared import factories
from tests.shared.fakes import (
    InMemoryBillingStore,
    InMemoryEntryStore,
    RecordingPublisher,
    RecordingQueue,
    ScriptedProcessor,
)
from tests.shared.moto_aws import TABLE

ORG = "org_demo"
ADMIN = Caller(ORG, "user_1", "admin@example.com", frozenset({"billing_admin"}))
CAPS = RetryCaps()
# The factories' failures happen at 2026-11-24T15:30Z, 10:30 in Toronto (the organization's zone).
SAVED = "2026-11-24T16:00:00.000000000Z"
DAY_1_0859 = "2026-11-25T13:59:00.000000000Z"
DAY_1_0900 = "2026-11-25T14:00:00.000000000Z"
DAY_3_0900 = "2026-11-27T14:00:00.000000000Z"
ON = RetryPolicy(enabled=True, updated_at=SAVED, updated_by="user_1")


@dataclass
class World:
    entries: Any
    billing: Any
    policies: Any
    queue: RecordingQueue = field(default_factory=RecordingQueue)

    def failure(self, **overrides: Any) -> str:
        body = factories.payment_failed(**overrides)
        result = payment_webhook.handle_payment_event(
            self.entries, RecordingPublisher(), factories.delivery(of=body), body
        )
        assert result.entry_id is not None
        return result.entry_id

    def run(self, now: str) -> dict[str, int]:
        return auto_retry.run(self.entries, self.policies, self.billing, self.queue, CAPS, now)

    def queued(self) -> list[tuple[str, int]]:
        return [(work.entry_id, work.attempt) for work in self.queue.sent]


@pytest.fixture
def world(aws: dict[str, str]) -> World:
    client = boto3.client("dynamodb")
    made = World(
        DynamoEntryStore(client, TABLE),
        DynamoBillingStore(client, TABLE),
        DynamoRetryPolicyStore(client, TABLE),
    )
    settings_body = factories.organization_upserted()
    billing_webhook.handle_billing_event(
        made.billing, factories.delivery(of=settings_body), settings_body
    )
    return made


def test_the_policy_is_off_by_default_and_only_a_billing_admin_changes_it(world: World) -> None:
    assert auto_retry.current_policy(world.policies, ADMIN) == RetryPolicy()
    member = Caller(ORG, "user_2", None, frozenset())
    with pytest.raises(Forbidden):
        auto_retry.change_policy(world.policies, member, True, [1, 3], "09:00")
    with pytest.raises(InvalidPayload):
        auto_retry.change_policy(world.policies, ADMIN, True, [3, 1], "09:00")
    assert world.policies.retry_policy(ORG) == RetryPolicy()  # nothing saved
    saved = auto_retry.change_policy(world.policies, ADMIN, True, [2, 4], "07:30")
    assert world.policies.retry_policy(ORG) == saved
    assert (saved.days, saved.local_time, saved.updated_by) == ((2, 4), "07:30", "user_1")
    assert [org for org, _ in world.policies.policies_due(saved.updated_at)] == [ORG]
    auto_retry.change_policy(world.policies, ADMIN, False, [2, 4], "07:30")
    assert world.policies.policies_due("9999-12-31T00:00:00.000000000Z") == []


def test_a_soft_decline_is_retried_at_09_00_on_day_1_as_the_system(world: World) -> None:
    world.policies.save_retry_policy(ORG, ON)
    soft = world.failure()  # card_declined
    hard = world.failure(data__failure={"code": "stolen_card", "message": ""})
    assert world.run(DAY_1_0859) == {}
    assert world.queued() == []
    assert world.run(DAY_1_0900) == {"auto_retry_requested": 1}
    assert world.queued() == [(soft, 1)]
    entry, audit = world.entries.get_with_audit(ORG, soft)
    assert (entry.status, entry.auto_attempts) == (Status.RETRY_PENDING, 1)
    assert audit[-1].action == "retry_requested"
    assert audit[-1].actor == AUTO_RETRY
    assert audit[-1].detail == {"attempt": 1, "automatic": 1}
    assert world.entries.get(ORG, hard).status is Status.FAILED


def test_a_repeated_run_and_a_revisit_the_same_day_request_nothing_twice(world: World) -> None:
    world.policies.save_retry_policy(ORG, ON)
    soft = world.failure()
    world.run(DAY_1_0900)
    assert world.run(DAY_1_0900) == {}  # not visited again before day 2 at 09:00
    # The entry fails again; the policy saved anew makes the organization due at once.
    failed_again(world, soft, "2026-11-25T14:00:05.000000000Z")
    world.policies.save_retry_policy(ORG, replace(ON, updated_at="2026-11-25T14:01:00Z"))
    assert world.run("2026-11-25T14:02:00.000000000Z") == {}
    assert world.queued() == [(soft, 1)]
    assert world.run(DAY_3_0900) == {"auto_retry_requested": 1}
    assert world.queued() == [(soft, 1), (soft, 2)]


def test_a_missed_run_is_caught_up_by_the_next(world: World) -> None:
    world.policies.save_retry_policy(ORG, ON)
    soft = world.failure()
    # Day 1 at 09:00 Toronto passed with no run; not caught up in the night (21:00 Toronto),
    # but by the next morning's first run.
    assert world.run("2026-11-26T02:00:00.000000000Z") == {}
    assert world.queued() == []
    assert world.run("2026-11-26T14:05:00.000000000Z") == {"auto_retry_requested": 1}
    assert world.queued() == [(soft, 1)]


def test_a_mastercard_delay_waits_and_the_run_after_it_retries(world: World) -> None:
    world.policies.save_retry_policy(ORG, ON)
    later = world.failure(
        data__failure={
            "code": "card_declined",
            "message": "",
            "network": "mastercard",
            "advice_code": "27",  # retry after 4 days: allowed 2026-11-28T15:30Z
        }
    )
    assert world.run(DAY_1_0900) == {"auto_retry_waiting": 1}
    assert world.run(DAY_3_0900) == {"auto_retry_waiting": 1}
    # Day 4 at 09:00 (14:00Z) is a visit anyway; then the next one is the delay's end.
    assert world.run("2026-11-28T14:00:00.000000000Z") == {"auto_retry_waiting": 1}
    assert world.run("2026-11-28T15:15:00.000000000Z") == {}  # not visited before the delay
    assert world.run("2026-11-28T15:30:00.000000000Z") == {"auto_retry_requested": 1}
    assert world.queued() == [(later, 1)]


def test_a_refusal_for_good_stops_the_automatic_attempts(world: World) -> None:
    world.policies.save_retry_policy(ORG, ON)
    debit = world.failure(
        data__method="echeck",
        data__payment_method={"token": "tok_echeck"},
        data__failure={"code": "debit_returned", "message": "", "return_code": "R01"},
    )
    # Presented again twice already: the bank rules allow no more.
    stored = world.entries.get(ORG, debit)
    world.entries.transition(
        replace(stored, attempts=3, version=stored.version + 1),
        factories_audit("failed_again"),
    )
    assert world.run(DAY_1_0900) == {"auto_retry_stopped": 1}
    entry = world.entries.get(ORG, debit)
    assert entry.status is Status.FAILED and entry.auto_stopped
    assert world.run(DAY_3_0900) == {}
    assert world.queued() == []


def test_an_organization_without_settings_is_looked_at_again_an_hour_later(
    world: World,
) -> None:
    world.policies.save_retry_policy("org_unknown", ON)
    assert world.run(DAY_1_0900) == {"auto_retry_unready": 1}
    assert world.run("2026-11-25T14:30:00.000000000Z") == {}
    assert world.run("2026-11-25T15:00:00.000000000Z") == {"auto_retry_unready": 1}


def test_what_a_run_costs_in_dynamodb_requests(world: World) -> None:
    world.policies.save_retry_policy(ORG, ON)
    world.failure(data__failure={"code": "stolen_card", "message": ""})  # never due
    calls: list[str] = []
    world.entries._client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )
    # Before 09:00 (the visit the save asked for): the markers due, the settings (time zone),
    # the next visit; no entry is read outside the hours of the attempts.
    world.run(DAY_1_0859)
    assert calls == ["Query", "GetItem", "UpdateItem"]
    calls.clear()
    # At 09:00: the same, and the failed entries.
    world.run(DAY_1_0900)
    assert calls == ["Query", "GetItem", "Query", "UpdateItem"]
    calls.clear()
    # Until the next 09:00, a run reads the markers and nothing else.
    world.run("2026-11-25T13:45:00.000000000Z")
    assert calls == ["Query"]


def failed_again(world: World, entry_id: str, at: str) -> None:
    pending = world.entries.get(ORG, entry_id)
    again = pending.failed_again(Failure("card_declined", ""), at, at)
    world.entries.transition(again, factories_audit("failed_again"), log_failure=True)


def factories_audit(action: str) -> Any:
    from payment_action_center.domain.entries import RETRY_WORKER, AuditEvent

    return AuditEvent("2026-11-25T14:00:06.000000000Z", action, RETRY_WORKER)


# ------------------------------------------------------------------------------- the property


@dataclass
class InMemoryPolicies:
    """The RetryPolicyStore's behaviour, in memory (the property runs thousands of examples)."""

    policies: dict[str, RetryPolicy] = field(default_factory=dict)
    visits: dict[str, str] = field(default_factory=dict)

    def retry_policy(self, organization_id: str) -> RetryPolicy:
        return self.policies.get(organization_id, RetryPolicy())

    def policy_and_time_zone(self, organization_id: str) -> tuple[RetryPolicy, str | None]:
        return self.retry_policy(organization_id), None

    def save_retry_policy(self, organization_id: str, policy: RetryPolicy) -> None:
        self.policies[organization_id] = policy
        self.visits[organization_id] = policy.updated_at

    def policies_due(self, now: str) -> list[tuple[str, RetryPolicy]]:
        return [
            (org, policy)
            for org, policy in self.policies.items()
            if policy.enabled and self.visits[org] <= now
        ]

    def visited(self, organization_id: str, policy: RetryPolicy, visit_at: str) -> None:
        if self.policies.get(organization_id) == policy:
            self.visits[organization_id] = visit_at


KINDS = [
    (EntryType.INSTALLMENT, PaymentKind.INSTALLMENT, Method.CREDIT_CARD),
    (EntryType.INSTALLMENT, PaymentKind.INSTALLMENT, Method.ECHECK),
    (EntryType.SUBSCRIPTION, PaymentKind.SUBSCRIPTION, Method.CREDIT_CARD),
    (EntryType.ECHECK_PAYMENT, PaymentKind.ONE_TIME, Method.ECHECK),
    (EntryType.CREDIT_CARD_REFUND, PaymentKind.REFUND, Method.CREDIT_CARD),
]
CODES = [
    "card_declined",
    "do_not_honor",
    "stolen_card",
    "lost_card",
    "fraudulent",
    "insufficient_funds",
    "expired_card",
    "incorrect_cvc",
    "debit_returned",
    "mystery",
]
FAILURES = st.builds(
    Failure,
    code=st.sampled_from(CODES),
    message=st.just(""),
    network=st.sampled_from([None, *Network]),
    network_decline_code=st.sampled_from([None, "05", "04", "43", "51", "54", "R0"]),
    advice_code=st.sampled_from([None, "02", "03", "21", "24", "40"]),
    return_code=st.sampled_from([None, "R01", "R05", "R02", "901", "903"]),
)
RUNS = st.lists(
    st.sampled_from(
        [
            "2026-11-25T13:59:00.000000000Z",
            DAY_1_0900,
            "2026-11-26T14:00:00.000000000Z",
            DAY_3_0900,
            "2026-12-01T14:00:00.000000000Z",
            "2026-12-08T14:00:00.000000000Z",
            "2026-12-20T14:00:00.000000000Z",
        ]
    ),
    min_size=1,
    max_size=6,
).map(sorted)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    failures=st.lists(
        st.tuples(st.sampled_from(KINDS), FAILURES, st.integers(1, 4), st.integers(0, 20)),
        min_size=1,
        max_size=6,
    ),
    runs=RUNS,
    outcomes=st.lists(
        st.sampled_from([ChargeOutcome.FAILED, ChargeOutcome.SUCCEEDED]), max_size=12
    ),
)
def test_no_entry_but_a_soft_decline_within_the_caps_ever_reaches_the_processor_automatically(
    failures: list[tuple[tuple[EntryType, PaymentKind, Method], Failure, int, int]],
    runs: list[str],
    outcomes: list[ChargeOutcome],
) -> None:
    store, billing, policies, queue = (
        InMemoryEntryStore(),
        InMemoryBillingStore(),
        InMemoryPolicies(),
        RecordingQueue(),
    )
    # Every retry the processor receives fails again or recovers, as scripted (then fails).
    processor = ScriptedProcessor(script=[*outcomes, *[ChargeOutcome.FAILED] * 40])
    settings_body = factories.organization_upserted()
    billing_webhook.handle_billing_event(
        billing, factories.delivery(of=settings_body), settings_body
    )
    policies.save_retry_policy(ORG, ON)
    for (entry_type, kind, method), failure, attempts, card_uses in failures:
        entry = replace(
            factories.entry(),
            type=entry_type,
            kind=kind,
            method=method,
            failure=failure,
            attempts=attempts,
        )
        store.entries[(ORG, entry.id)] = entry
        store.audit[(ORG, entry.id)] = []
        card = entry.payment_method.card_id or entry.payment_method.token
        store.card_attempts[(ORG, card)] = ["2026-11-24T00:00:00.000000000Z"] * card_uses
    requested = 0
    for now in runs:
        before = dict(store.entries)
        already = len(queue.sent)
        auto_retry.run(store, policies, billing, queue, CAPS, now)
        for work in queue.sent[already:]:
            entry = before[(ORG, work.entry_id)]  # as it was when the policy asked
            decline = guidance(entry.type, entry.method, entry.failure).decline_class
            assert decline is DeclineClass.RETRY_LATER, entry.failure
            assert entry.status is Status.FAILED
            card = entry.payment_method.card_id or entry.payment_method.token
            if (
                entry.method is Method.CREDIT_CARD
                and entry.type is not EntryType.CREDIT_CARD_REFUND
            ):
                since = timestamps.plus(now, -timedelta(days=30))
                used = len(store.card_reattempts(ORG, card, since)) - 1  # this request's own
                assert used < CAPS.card_reattempts(entry.failure.network)
            if entry.method is Method.ECHECK:
                assert entry.attempts - 1 < CAPS.debit_representments
            retry_worker.run(work, store, billing, processor, RecordingPublisher())
            requested += 1
    # Nothing reached the processor but those requests, each once.
    assert processor.charges == requested
    assert len(queue.sent) == len({(w.entry_id, w.attempt) for w in queue.sent})


def test_a_policy_turned_on_over_old_failures_retries_in_the_morning_and_only_once(
    world: World,
) -> None:
    """Failed on November 24 (days 1, 3 and 7 passed), the policy saved on December 1 at 23:00
    Toronto: nothing in the night; the next morning, one attempt (the 7th day's, the latest
    due), not the missed ones one day after the other."""
    world.policies.save_retry_policy(ORG, ON)
    soft = world.failure()
    assert world.run("2026-12-02T04:00:00.000000000Z") == {}  # 23:00 Toronto
    assert world.run("2026-12-02T14:05:00.000000000Z") == {"auto_retry_requested": 1}
    assert world.queued() == [(soft, 1)]
    assert world.entries.get(ORG, soft).auto_attempts == 3  # days 1 and 3 skipped


def test_a_failure_older_than_the_policy_s_days_is_never_retried_automatically(
    world: World,
) -> None:
    world.policies.save_retry_policy(ORG, ON)
    world.failure()  # day 14 was December 8; two days later it is dropped
    assert world.run("2026-12-10T14:05:00.000000000Z") == {}
    assert world.queued() == []


def test_a_failed_refund_is_never_retried_automatically(world: World) -> None:
    """Money going out is retried by an admin once the cause is fixed, never by the policy."""
    world.policies.save_retry_policy(ORG, ON)
    refund = factories.refund_failed()
    result = payment_webhook.handle_payment_event(
        world.entries, RecordingPublisher(), factories.delivery(of=refund), refund
    )
    assert result.entry_id is not None
    soft = world.failure()
    assert world.run(DAY_1_0900) == {"auto_retry_requested": 1}
    assert world.queued() == [(soft, 1)]
