"""bench/load.py (make load), bounded: 400 failure webhooks from 8 senders on the e2e stack, with
bursts of admins' retries and dismisses meanwhile; only its invariants are asserted, never a
time. Its plan and its checks are tested first, without a stack."""

from collections import Counter

import pytest

from bench import load
from local.stack import LocalStack
from payment_action_center.domain.entries import EntryType

SEED = 8  # its plan (below) has bursts of retries only, of dismisses only, and pending e-checks
WEBHOOKS, SENDERS, ORGANIZATIONS = 400, 8, 3
# pytest-timeout's limit for the test (the stack's start included when it runs first), and the
# part of it the load may wait for its retries to be decided once the clicks are over
# (bench/load.py's own IDLE_TIMEOUT, 180 s, is for make load): past it the load reports what is
# still undecided as a broken invariant, before pytest-timeout would stop the test without a
# word. The run takes 40 to 50 s on 2 busy cores, the wait a few of them; the stack 10 to 20 s.
TEST_TIMEOUT, IDLE_TIMEOUT = 120, 30.0


def bounded_plan(run: str = "t") -> load.Plan:
    return load.plan(WEBHOOKS, 0.2, SEED, run=run, organizations=ORGANIZATIONS)


def test_the_plan_is_the_same_for_a_seed_and_holds_every_kind_of_delivery() -> None:
    first, again = bounded_plan("a"), bounded_plan("b")

    def shape(plan: load.Plan) -> list[tuple[str, str, str, str]]:
        return [
            (d.role, d.payment.kind.value, d.payment.token, d.webhook_id.split("_")[-1])
            for d in plan.deliveries
            if d.payment is not None
        ]

    assert shape(first) == shape(again)
    assert len(first.deliveries) == WEBHOOKS
    roles = Counter(d.role for d in first.deliveries)
    assert roles == {"original": 312, "redelivery": 80, "new_id": 8}
    originals = {d.webhook_id for d in first.deliveries if d.role != "redelivery"}
    assert {d.webhook_id for d in first.deliveries if d.role == "redelivery"} <= originals
    assert [d.role for d in first.deliveries] != sorted(d.role for d in first.deliveries)
    types = {load.entry_type(p) for p in first.payments}
    assert types == {*(t.value for t in EntryType), None}  # None: an untracked kind
    assert len(first.billing) == ORGANIZATIONS
    assert {p.org_id for p in first.payments} == set(first.organizations)


def test_the_bounded_plan_has_bursts_whose_outcome_is_certain() -> None:
    """Whatever click wins, these bursts must end in a retry (charged), a dismiss and settled
    e-checks: the run below cannot pass without exercising each."""
    plan = bounded_plan()
    payments = plan.payment_of()
    retries_only = [
        e for e, clicks in plan.bursts.items() if {c.action for c in clicks} == {"retry"}
    ]
    dismisses_only = [
        e for e, clicks in plan.bursts.items() if {c.action for c in clicks} == {"dismiss"}
    ]
    outcomes = Counter(load.decide(payments[e].token) for e in retries_only)
    assert outcomes["succeeded"] >= 1 and outcomes["failed"] >= 1 and outcomes["pending"] >= 2
    assert dismisses_only
    assert any(len(clicks) > len(set(clicks)) for clicks in plan.bursts.values())  # double clicks


def outcome(delivery: load.Delivery, answer: str) -> load.Outcome:
    return load.Outcome(delivery, 200, answer, 1, 200)


def test_the_answers_check_finds_a_payment_accepted_twice_and_an_untracked_one_accepted() -> None:
    plan = bounded_plan()
    tracked = next(d for d in plan.deliveries if d.role == "new_id")
    first = next(
        d for d in plan.deliveries if d.role == "original" and d.payment == tracked.payment
    )
    untracked = next(d for d in plan.deliveries if d.payment and not d.payment.tracked)

    assert load.answer_problems([outcome(first, "accepted"), outcome(tracked, "ignored")]) == []
    twice = load.answer_problems([outcome(first, "accepted"), outcome(tracked, "accepted")])
    assert [p for p in twice if "2 webhook-ids accepted" in p]
    assert load.answer_problems([outcome(untracked, "accepted")])
    assert load.answer_problems([outcome(first, "accepted"), outcome(first, "ignored")])


def test_the_clicks_answers_make_the_expected_state() -> None:
    plan = bounded_plan()
    payments = plan.payment_of()
    declined = next(e for e in plan.bursts if load.decide(payments[e].token) == "failed")
    world = load.World("http://127.0.0.1:9", plan, None, load.Recorder(), [])  # type: ignore[arg-type]
    key = load.Click(0, "retry", "k")
    world.answers = [
        load.ClickAnswer(declined, key, 202, {}),
        load.ClickAnswer(declined, key, 202, {}),  # the same key replayed: one retry
        load.ClickAnswer(declined, load.Click(1, "retry"), 202, {}),
        load.ClickAnswer(declined, load.Click(2, "dismiss"), 409, {}),
    ]
    assert world.accepted_retries(declined) == 2
    assert world.expected(declined) == ("failed", 3)
    world.answers.append(load.ClickAnswer(declined, load.Click(3, "dismiss"), 200, {}))
    assert world.expected(declined) == ("dismissed", 3)


@pytest.mark.timeout(TEST_TIMEOUT)
def test_a_bounded_load_keeps_every_invariant(stack: LocalStack) -> None:
    report = load.run(
        stack.url,
        webhooks=WEBHOOKS,
        senders=SENDERS,
        duplicates=0.2,
        seed=SEED,
        organizations=ORGANIZATIONS,
        stack=stack,
        idle_timeout=IDLE_TIMEOUT,
    )
    figures = report.figures
    print(figures["sending_seconds"], figures["run_seconds"])  # shown when the test fails

    assert report.failures == []
    assert len(report.invariants) == 9
    assert figures["webhooks"] == WEBHOOKS
    assert figures["deliveries"]["answers"]["ignored"] >= 8  # new ids (and untracked kinds)
    clicks = figures["entries"]["clicks_by_answer"]
    assert clicks["retry 202"] >= 1 and clicks["dismiss 200"] >= 1 and clicks["retry 409"] >= 1
    assert figures["routes"]["POST /_local/sandbox/settle"]["statuses"] == {
        "200": figures["routes"]["POST /_local/sandbox/settle"]["requests"]
    }
