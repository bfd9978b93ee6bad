"""Load on a local stack (make load): failure webhooks and admins' clicks at once, then counted.

`python -m bench.load`: failure webhooks from concurrent senders, with admins' retries and
dismisses meanwhile; then every entry, charge and event counted.

Options: `--webhooks 5000 --senders 32 --duplicates 0.2 --seed 1 [--url URL]`. Without --url it
starts a LocalStack on free ports (as tests/e2e/conftest.py does); with it, it drives the running
stack there (`make dev`), under organizations of its own, so the demo data is left alone.

What it sends (`plan`, the same for a seed): the organizations' `organization.upserted` first
(/webhooks/billing), then N payment failures (/webhooks/payments) of every entry type of
docs/contract.md §1 and a few untracked kinds, spread over the organizations: `--duplicates` of
them re-deliveries of an earlier `webhook-id` (the same body), a few the same payment under a new
`webhook-id`, the whole shuffled. Each sender thread has one requests session and behaves as a
Standard Webhooks sender: it signs each attempt when it sends it, and retries a 409, a 5xx or a
broken connection with exponential backoff (counted). Once a payment's failure is in, a sample of
entries each gets a burst of clicks: several billing admins at the same instant, retry and
dismiss, some retries with an `Idempotency-Key` (some sent twice with the same key), while the
senders go on.

Then it waits for the retry queue to drain (the worker's charge at the sandbox and its outcome
on the entry), settles the e-check retries the sandbox left pending (POST /_local/sandbox/settle),
and checks (`check`):

- every delivery ended with a 200 within its sender's retries (a 5xx followed by a 200 on
  redelivery is counted, not a failure), the same answer for every delivery of one
  `webhook-id`, one accepted `webhook-id` per tracked payment, untracked kinds ignored, every
  organization readable with GET /organization;
- GET /transactions, all pages of each organization, lists every open entry exactly once and
  nothing else, each with its type, payment and attempts; each acted-on entry (GET
  /transactions/{id}) is in the state its answered clicks and the sandbox's rule
  (`decide` in layers/core/payment_action_center/adapters/processors/sandbox.py) lead to, with
  one `retry_requested` per accepted retry and one `dismissed` per accepted dismiss in its audit;
- the sandbox's calls (GET /_local/sandbox/charges) are exactly one per accepted retry, under
  that attempt's idempotency key, never two for one key;
- the bus (GET /_local/events) carries PaymentRecovered for each recovered entry and
  TransactionDismissed for each dismissed one, and nothing for the others;
- no API request (clicks, reads) was answered a 5xx.

It prints the throughput (webhooks a second over the sending phase), p50/p95/p99 latency per
route, the count of every status per route, the CPU seconds of each part of the stack (Linux;
not with --url) and each invariant; exits 1 if one failed.
tests/e2e/test_load.py runs the same, bounded, on the e2e stack.
"""

import argparse
import json
import random
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from bench.throughput import cpu_seconds, ms, percentile, split
from local import demo
from local.stack import LocalStack
from payment_action_center.adapters.processors.sandbox import decide
from payment_action_center.domain.entries import Method, PaymentKind, entry_id_for, tracked_type

PAYMENTS, BILLING = "/webhooks/payments", "/webhooks/billing"
RETRY, DISMISS = "POST /transactions/{id}/retry", "POST /transactions/{id}/dismiss"
# A sender's attempts at one delivery before it gives up (then an invariant fails).
MAX_ATTEMPTS = 8
BACKOFF_FIRST, BACKOFF_CAP = 0.05, 2.0  # seconds: doubled at each attempt, up to the cap
NEW_ID_SHARE = 0.02  # of the webhooks: the same payment under a new webhook-id
UNTRACKED_SHARE = 0.03  # of the payments: a one-time card payment or an e-check refund
ADMINS = 4  # billing admins per organization, each with a token of their own
CLICK_RUNNERS = 4  # bursts of clicks at once
IDLE_TIMEOUT = 180.0  # seconds for the retries to be charged and decided
TRACKED = [
    (PaymentKind.REFUND, Method.CREDIT_CARD),
    (PaymentKind.ONE_TIME, Method.ECHECK),
    (PaymentKind.INSTALLMENT, Method.CREDIT_CARD),
    (PaymentKind.INSTALLMENT, Method.ECHECK),
    (PaymentKind.SUBSCRIPTION, Method.CREDIT_CARD),
    (PaymentKind.SUBSCRIPTION, Method.ECHECK),
]
UNTRACKED = [(PaymentKind.ONE_TIME, Method.CREDIT_CARD), (PaymentKind.REFUND, Method.ECHECK)]
# The sandbox decides a retry by token (adapters/processors/sandbox.py); any other token succeeds.
CARD_TOKENS = ["tok_success", "tok_insufficient_funds", "tok_card_declined", "tok_visa_load"]
CARD_WEIGHTS = [5, 2, 2, 1]
ECHECK_TOKENS = ["tok_echeck_pending", "tok_success", "tok_insufficient_funds"]
ECHECK_WEIGHTS = [6, 2, 2]
FAILURES = [
    ("card_declined", "Carte refusée"),
    ("insufficient_funds", "Insufficient funds"),
    ("expired_card", "Carte expirée"),
    ("nsf", "Provision insuffisante"),
]


# ------------------------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class Payment:
    org_id: str
    payment_id: str
    kind: PaymentKind
    method: Method
    token: str
    amount: int

    @property
    def tracked(self) -> bool:
        return tracked_type(self.kind, self.method) is not None

    @property
    def entry_id(self) -> str:
        return entry_id_for(self.org_id, self.payment_id)


@dataclass(frozen=True)
class Delivery:
    endpoint: str  # PAYMENTS or BILLING
    webhook_id: str
    body: str
    payment: Payment | None  # None for an organization.upserted
    role: str  # "original", "redelivery" (same webhook-id) or "new_id" (same payment)


@dataclass(frozen=True)
class Click:
    admin: int
    action: str  # "retry" or "dismiss"
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Plan:
    organizations: list[str]
    billing: list[Delivery]  # sent first
    deliveries: list[Delivery]  # shuffled
    payments: list[Payment]
    bursts: dict[str, list[Click]]  # entry id -> clicks sent at the same instant
    settlements: dict[str, str]  # entry id -> "succeeded" | "failed", if its e-check is pending

    def payment_of(self) -> dict[str, Payment]:
        return {payment.entry_id: payment for payment in self.payments}


def plan(
    webhooks: int,
    duplicates: float,
    seed: int,
    *,
    run: str,
    organizations: int = 8,
    actions: float = 0.1,
    now: datetime | None = None,
) -> Plan:
    """What a run sends, the same for a seed (`run` only names its organizations and keys)."""
    if not 0 <= duplicates < 0.9:
        raise ValueError(f"--duplicates must be in [0, 0.9), not {duplicates}")
    redeliveries = round(webhooks * duplicates)
    new_ids = max(1, round(webhooks * NEW_ID_SHARE))
    originals = webhooks - redeliveries - new_ids
    if originals < len(TRACKED) + len(UNTRACKED) or organizations < 1:
        raise ValueError(f"too few webhooks ({webhooks}) for every entry type")
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    orgs = [f"org_load_{run}_{n:02d}" for n in range(organizations)]
    untracked = max(len(UNTRACKED), round(originals * UNTRACKED_SHARE))
    kinds = (
        TRACKED
        + UNTRACKED
        + [rng.choice(TRACKED) for _ in range(originals - untracked - len(TRACKED))]
    )
    kinds += [rng.choice(UNTRACKED) for _ in range(untracked - len(UNTRACKED))]
    payments, unique = [], []
    for number, (kind, method) in enumerate(kinds, start=1):
        org = orgs[number % organizations]
        tokens, weights = (
            (CARD_TOKENS, CARD_WEIGHTS)
            if method == Method.CREDIT_CARD
            else (ECHECK_TOKENS, ECHECK_WEIGHTS)
        )
        token = rng.choices(tokens, weights)[0]
        code, message = rng.choice(FAILURES)
        failure = demo.Failure(
            kind=kind.value,
            method=method.value,
            holder=rng.choice(demo.FAILURES).holder,
            amount=rng.randrange(500, 20000),
            code=code,
            message=message,
            token=token,
            hours_ago=rng.uniform(0, 47),
        )
        event = demo.failure_event(org, number, failure, now)
        payment = Payment(org, event["data"]["payment_id"], kind, method, token, failure.amount)
        payments.append(payment)
        body = json.dumps(event, ensure_ascii=False)
        unique.append(Delivery(PAYMENTS, f"msg_load_{run}_{number:06d}", body, payment, "original"))
    tracked = [payment for payment in payments if payment.tracked]
    for n, payment in enumerate(rng.sample(tracked, new_ids)):
        first = next(d for d in unique if d.payment == payment)
        unique.append(
            Delivery(PAYMENTS, f"msg_load_{run}_new_{n:06d}", first.body, payment, "new_id")
        )
    again = [
        Delivery(PAYMENTS, d.webhook_id, d.body, d.payment, "redelivery")
        for d in rng.choices(unique, k=redeliveries)
    ]
    deliveries = unique + again
    rng.shuffle(deliveries)
    billing = [
        Delivery(
            BILLING,
            f"msg_load_{run}_org_{n:02d}",
            json.dumps(organization(org, now)),
            None,
            "original",
        )
        for n, org in enumerate(orgs)
    ]
    acted = rng.sample(tracked, max(1, round(len(tracked) * actions)))
    bursts = {payment.entry_id: burst(rng, f"{run}-{n}") for n, payment in enumerate(acted)}
    settlements = {
        payment.entry_id: rng.choices(["succeeded", "failed"], [7, 3])[0]
        for payment in acted
        if decide(payment.token) == "pending"
    }
    return Plan(orgs, billing, deliveries, payments, bursts, settlements)


def organization(org_id: str, now: datetime) -> dict[str, Any]:
    return {
        "type": "organization.upserted",
        "occurred_at": demo.rfc3339(now - timedelta(days=30)),
        "data": {"organization_id": org_id, **demo.ORGANIZATION, "name": f"Centre {org_id}"},
    }


def burst(rng: random.Random, name: str) -> list[Click]:
    """Clicks of different admins on one entry: retries, some with a key, and dismisses; now and
    then one admin's retry twice with the same key (a double click)."""
    clicks = []
    for admin in range(ADMINS):
        action = rng.choices(["retry", "dismiss"], [3, 2])[0]
        key = f"load-{name}-{admin}" if action == "retry" and rng.random() < 0.5 else None
        clicks.append(Click(admin, action, key))
    keyed = [click for click in clicks if click.idempotency_key]
    if keyed and rng.random() < 0.5:
        clicks.append(keyed[0])
    return clicks


# ------------------------------------------------------------------------------ the recording


@dataclass(frozen=True)
class Call:
    route: str
    status: int  # 0: no answer (the connection broke)
    seconds: float


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)

    def timed(
        self, route: str, session: requests.Session, method: str, url: str, **kwargs: Any
    ) -> requests.Response | None:
        """The request sent (60 s timeout), its status and time recorded under `route`; None if
        no answer came."""
        started = time.perf_counter()
        try:
            answer = session.request(method, url, timeout=60, **kwargs)
        except requests.RequestException:
            self.calls.append(Call(route, 0, time.perf_counter() - started))
            return None
        self.calls.append(Call(route, answer.status_code, time.perf_counter() - started))
        return answer


@dataclass(frozen=True)
class Outcome:
    """How one delivery ended: the last status, the answer's `status` field, the attempts."""

    delivery: Delivery
    status: int
    answer: str | None
    attempts: int
    first_status: int


@dataclass(frozen=True)
class ClickAnswer:
    entry_id: str
    click: Click
    status: int
    body: Any


class Sender:
    """One Standard Webhooks sender: one session, each attempt signed when sent; a 409, a 5xx
    or a broken connection is retried with exponential backoff and jitter."""

    def __init__(self, url: str, secrets: dict[str, str], recorder: Recorder, seed: int) -> None:
        self.url = url
        self.secrets = secrets
        self.recorder = recorder
        self.jitter = random.Random(seed)

    def send_all(
        self, deliveries: Sequence[Delivery], done: Callable[[Outcome], None]
    ) -> list[Outcome]:
        outcomes = []
        with requests.Session() as session:
            for delivery in deliveries:
                outcome = self.send(session, delivery)
                outcomes.append(outcome)
                done(outcome)
        return outcomes

    def send(self, session: requests.Session, delivery: Delivery) -> Outcome:
        secret = self.secrets["payments" if delivery.endpoint == PAYMENTS else "billing"]
        first, status, answer = 0, 0, None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            headers = demo.signed_headers(
                secret, delivery.webhook_id, delivery.body, datetime.now(UTC)
            )
            response = self.recorder.timed(
                f"POST {delivery.endpoint}",
                session,
                "POST",
                self.url + delivery.endpoint,
                data=delivery.body.encode(),
                headers=headers,
            )
            status = 0 if response is None else response.status_code
            if attempt == 1:
                first = status
            if response is not None and status == 200:
                answer = str(response.json().get("status"))
                return Outcome(delivery, status, answer, attempt, first)
            if response is not None and status != 409 and status < 500:
                return Outcome(delivery, status, response.text[:200], attempt, first)
            backoff = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (attempt - 1))
            time.sleep(backoff * (0.5 + self.jitter.random()))
        return Outcome(delivery, status, answer, MAX_ATTEMPTS, first)


class Admins:
    """Tokens of each organization's billing admins, and thread-local sessions to click with."""

    def __init__(self, url: str, organizations: Sequence[str], recorder: Recorder) -> None:
        self.url = url
        self.recorder = recorder
        self._local = threading.local()
        self.tokens: dict[str, list[str]] = {}
        with requests.Session() as session:
            for org in organizations:
                self.tokens[org] = [
                    demo.mint_token(
                        session,
                        url,
                        org,
                        sub=f"user_load_{n}",
                        email=f"user_load_{n}@{org}.example",
                    )
                    for n in range(ADMINS)
                ]

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session  # type: ignore[no-any-return]

    def request(
        self, method: str, route: str, path: str, org: str, admin: int = 0, **kwargs: Any
    ) -> requests.Response | None:
        headers = {
            "authorization": f"Bearer {self.tokens[org][admin]}",
            **kwargs.pop("headers", {}),
        }
        return self.recorder.timed(
            route, self.session, method, self.url + path, headers=headers, **kwargs
        )


class Clicks:
    """Bursts of clicks, each started once its entry is in, CLICK_RUNNERS bursts at a time; the
    clicks of a burst leave together (a barrier)."""

    def __init__(self, admins: Admins, plan: Plan) -> None:
        self.admins = admins
        self.plan = plan
        self.payments = plan.payment_of()
        self.answers: list[ClickAnswer] = []
        self._started: set[str] = set()
        self._lock = threading.Lock()
        self._bursts = ThreadPoolExecutor(CLICK_RUNNERS, thread_name_prefix="burst")
        widest = max((len(clicks) for clicks in plan.bursts.values()), default=1)
        self._clicks = ThreadPoolExecutor(CLICK_RUNNERS * widest, thread_name_prefix="click")
        self._futures: list[Future[None]] = []

    def entry_in(self, outcome: Outcome) -> None:
        """A sender's delivery ended: if it was answered 200, its payment's entry exists."""
        payment = outcome.delivery.payment
        if payment is None or outcome.status != 200 or payment.entry_id not in self.plan.bursts:
            return
        with self._lock:
            if payment.entry_id in self._started:
                return
            self._started.add(payment.entry_id)
            self._futures.append(self._bursts.submit(self.run_burst, payment.entry_id))

    def run_burst(self, entry_id: str) -> None:
        clicks = self.plan.bursts[entry_id]
        org = self.payments[entry_id].org_id
        barrier = threading.Barrier(len(clicks))

        def click(one: Click) -> ClickAnswer:
            barrier.wait(timeout=60)
            route = RETRY if one.action == "retry" else DISMISS
            path = f"/transactions/{entry_id}/{one.action}"
            kwargs: dict[str, Any] = {}
            if one.idempotency_key:
                kwargs["headers"] = {"idempotency-key": one.idempotency_key}
            if one.action == "dismiss":
                kwargs["json"] = {"reason": f"load: admin {one.admin}"}
            answer = self.admins.request("POST", route, path, org, one.admin, **kwargs)
            if answer is None:
                return ClickAnswer(entry_id, one, 0, None)
            try:
                body = answer.json()
            except ValueError:  # not JSON: kept as text for the report
                body = answer.text[:200]
            return ClickAnswer(entry_id, one, answer.status_code, body)

        found = [future.result() for future in [self._clicks.submit(click, c) for c in clicks]]
        with self._lock:
            self.answers.extend(found)

    def finish(self) -> None:
        """Wait for every burst started (a burst whose entry never came in never starts: the
        checks then find its clicks missing)."""
        self._bursts.shutdown(wait=True)
        self._clicks.shutdown(wait=True)
        for future in self._futures:
            future.result()


# ----------------------------------------------------------------------------------- the run


@dataclass
class Report:
    figures: dict[str, Any]
    invariants: list[tuple[str, list[str]]]  # name, what broke it (empty: held)

    @property
    def failures(self) -> list[str]:
        return [f"{name}: {'; '.join(broken[:5])}" for name, broken in self.invariants if broken]


def run(
    url: str,
    *,
    webhooks: int = 5000,
    senders: int = 32,
    duplicates: float = 0.2,
    seed: int = 1,
    organizations: int = 8,
    actions: float = 0.1,
    stack: LocalStack | None = None,
    idle_timeout: float = IDLE_TIMEOUT,
) -> Report:
    """Send, click, wait, settle and check (the module's docstring) against the gateway at
    `url`; `stack`, if this process runs it, is asked directly when its queues are idle. What is
    still undecided `idle_timeout` seconds after the clicks is reported as a broken invariant."""
    the_plan = plan(
        webhooks,
        duplicates,
        seed,
        run=uuid.uuid4().hex[:8],
        organizations=organizations,
        actions=actions,
    )
    recorder = Recorder()
    # CPU of the stack's processes: only where this process runs the stack.
    cpu_before, run_started = cpu_seconds() if stack else None, time.perf_counter()
    with requests.Session() as session:
        secrets = demo.webhook_secrets(session, url)
    with requests.Session() as session:
        billing = [Sender(url, secrets, recorder, seed).send(session, d) for d in the_plan.billing]
    admins = Admins(url, the_plan.organizations, recorder)
    clicks = Clicks(admins, the_plan)
    batches = split(the_plan.deliveries, senders)
    started = time.perf_counter()
    with ThreadPoolExecutor(senders, thread_name_prefix="sender") as pool:
        sent = pool.map(
            lambda pair: Sender(url, secrets, recorder, seed + pair[0]).send_all(
                pair[1], clicks.entry_in
            ),
            enumerate(batches),
        )
        outcomes = [outcome for batch in sent for outcome in batch]
    sending = time.perf_counter() - started
    clicks.finish()
    acting = time.perf_counter() - started
    world = World(url, the_plan, admins, recorder, clicks.answers)
    idle = world.wait_until_decided(stack, idle_timeout)
    settled = world.settle()
    invariants = check(world, billing, outcomes, idle, settled)
    figures = summary(the_plan, recorder, outcomes, clicks.answers, sending, acting, senders)
    figures["run_seconds"] = round(time.perf_counter() - run_started, 2)
    cpu_after = cpu_seconds() if stack else None
    if cpu_before is not None and cpu_after is not None:
        spent = {kind: round(cpu_after[kind] - cpu_before[kind], 1) for kind in cpu_before}
        figures["cpu_seconds"] = {**spent, "total": round(sum(spent.values()), 1)}
    return Report(figures, invariants)


class World:
    """What the stack shows after the run, read over HTTP, and what the clicks lead to."""

    def __init__(
        self,
        url: str,
        plan: Plan,
        admins: Admins,
        recorder: Recorder,
        answers: Sequence[ClickAnswer],
    ) -> None:
        self.url = url
        self.plan = plan
        self.admins = admins
        self.recorder = recorder
        self.answers = answers
        self.payments = plan.payment_of()
        self.session = requests.Session()
        self.settled: dict[str, str] = {}

    def accepted_retries(self, entry_id: str) -> int:
        """Distinct retries answered 202: a keyed click replayed (same admin, same key) once."""
        keyed, plain = set(), 0
        for answer in self.answers:
            if answer.entry_id != entry_id or answer.click.action != "retry":
                continue
            if answer.status == 202:
                if answer.click.idempotency_key:
                    keyed.add((answer.click.admin, answer.click.idempotency_key))
                else:
                    plain += 1
        return plain + len(keyed)

    def accepted_dismisses(self, entry_id: str) -> int:
        return sum(
            1
            for answer in self.answers
            if answer.entry_id == entry_id
            and answer.click.action == "dismiss"
            and answer.status == 200
        )

    def charges(self) -> list[dict[str, Any]]:
        """The sandbox's calls for this run's entries."""
        answer = self.recorder.timed(
            "GET /_local/sandbox/charges", self.session, "GET", f"{self.url}/_local/sandbox/charges"
        )
        assert answer is not None and answer.status_code == 200, answer
        return [
            charge
            for charge in answer.json()["charges"]
            if charge["idempotency_key"].split(":retry:")[0] in self.payments
        ]

    def listed(self, org: str, **filters: str) -> list[dict[str, Any]]:
        """GET /transactions, every page, in order."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": "200", **filters}
        while True:
            answer = self.admins.request(
                "GET", "GET /transactions", "/transactions", org, params=params
            )
            assert answer is not None and answer.status_code == 200, answer and answer.text
            page = answer.json()
            items += page["items"]
            if not page["next_cursor"]:
                return items
            params = {**params, "cursor": page["next_cursor"]}

    def entry(self, entry_id: str) -> dict[str, Any]:
        org = self.payments[entry_id].org_id
        answer = self.admins.request(
            "GET", "GET /transactions/{id}", f"/transactions/{entry_id}", org
        )
        assert answer is not None and answer.status_code == 200, answer and answer.text
        return dict(answer.json())

    def wait_until_decided(self, stack: LocalStack | None, timeout: float) -> list[str]:
        """Wait until every accepted retry has reached the sandbox and its outcome the entry (an
        e-check the sandbox answered `pending` stays retry_pending): what was still undecided
        after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        if stack is not None:
            stack.wait_for_queues_idle(timeout)
        expected = sum(self.accepted_retries(entry_id) for entry_id in self.plan.bursts)
        while True:
            charges = self.charges()
            pending_at_sandbox = {
                c["idempotency_key"].split(":retry:")[0]
                for c in charges
                if c["outcome"] == "pending"
            }
            waiting = {
                item["id"]
                for org in self.plan.organizations
                for item in self.listed(org, status="retry_pending")
            } - pending_at_sandbox
            undecided = [f"{len(charges)} of {expected} charges"] if len(charges) < expected else []
            undecided += [f"{entry_id} still retry_pending" for entry_id in sorted(waiting)]
            if not undecided:
                return []
            if time.monotonic() > deadline:
                return [f"after {timeout:g} s: {what}" for what in undecided]
            time.sleep(0.5)

    def settle(self) -> list[str]:
        """Settle every e-check retry pending at the sandbox as the plan says: what failed."""
        problems = []
        pending = {
            c["idempotency_key"].split(":retry:")[0]
            for c in self.charges()
            if c["outcome"] == "pending"
        }
        for entry_id in sorted(pending):
            outcome = self.plan.settlements.get(entry_id, "succeeded")
            answer = self.recorder.timed(
                "POST /_local/sandbox/settle",
                self.session,
                "POST",
                f"{self.url}/_local/sandbox/settle",
                json={"transaction_id": entry_id, "outcome": outcome},
            )
            if answer is None or answer.status_code != 200:
                problems.append(f"settle {entry_id}: {answer and answer.status_code}")
            else:
                self.settled[entry_id] = outcome
        return problems

    def expected(self, entry_id: str) -> tuple[str, int]:
        """The status and attempts the clicks' answers lead to, by the sandbox's rule."""
        if entry_id not in self.plan.bursts:
            return "failed", 1
        retries = self.accepted_retries(entry_id)
        if self.accepted_dismisses(entry_id):
            return "dismissed", 1 + retries
        if retries == 0:
            return "failed", 1
        outcome = decide(self.payments[entry_id].token)
        if outcome == "pending":
            outcome = self.settled.get(entry_id, "pending")
        if outcome == "succeeded":
            return "recovered", retries
        if outcome == "pending":
            return "retry_pending", retries
        return "failed", 1 + retries

    def events(self) -> list[dict[str, Any]]:
        answer = self.session.get(f"{self.url}/_local/events", timeout=60)
        assert answer.status_code == 200, answer.text
        return [
            event
            for event in answer.json()["events"]
            if event["detail"].get("organization_id") in self.plan.organizations
        ]


# ------------------------------------------------------------------------------- the checks


def entry_type(payment: Payment) -> str | None:
    found = tracked_type(payment.kind, payment.method)
    return None if found is None else found.value


def check(
    world: World,
    billing: Sequence[Outcome],
    outcomes: Sequence[Outcome],
    idle: list[str],
    settled: list[str],
) -> list[tuple[str, list[str]]]:
    """Each invariant of the module's docstring and what broke it (nothing: it held)."""
    acted, charged = acted_on_problems(world)
    return [
        (
            "every delivery ended in a 200 (a 409 or 5xx only before a 200 on redelivery)",
            [
                f"{o.delivery.webhook_id} ({o.delivery.role}): {o.status} after {o.attempts}"
                for o in [*billing, *outcomes]
                if o.status != 200
            ],
        ),
        (
            "every organization.upserted accepted and readable (GET /organization)",
            [f"{o.delivery.webhook_id}: {o.answer}" for o in billing if o.answer != "accepted"]
            + organization_problems(world),
        ),
        (
            "one answer per webhook-id, one accepted webhook-id per payment",
            answer_problems(outcomes),
        ),
        ("GET /transactions lists each open entry exactly once, as it is", listing_problems(world)),
        ("each acted-on entry as its clicks' answers say, with its audit", acted),
        ("one sandbox charge per accepted retry, never two for one attempt", charged),
        ("the queues drained: every retry charged and decided", idle + settled),
        ("the bus has each recovery and dismissal, and no other", event_problems(world)),
        (
            "no API request answered a 5xx",
            [
                f"{call.route}: {call.status}"
                for call in world.recorder.calls
                if not call.route.startswith("POST /webhooks")
                and (call.status >= 500 or call.status == 0)
            ],
        ),
    ]


def listing_problems(world: World) -> list[str]:
    """Every page of every organization: each open entry once, none closed, none foreign."""
    entries: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for org in world.plan.organizations:
        items = world.listed(org)
        ids = Counter(item["id"] for item in items)
        problems += [f"{entry_id} listed {n} times" for entry_id, n in ids.items() if n > 1]
        entries |= {item["id"]: item for item in items}
    expected_open = {}
    for payment in world.plan.payments:
        if payment.tracked:
            status, attempts = world.expected(payment.entry_id)
            if status in ("failed", "retry_pending"):
                expected_open[payment.entry_id] = (status, attempts)
    problems += [f"{entry_id} missing" for entry_id in sorted(set(expected_open) - set(entries))]
    problems += [
        f"{entry_id} listed, not open" for entry_id in sorted(set(entries) - set(expected_open))
    ]
    for entry_id in sorted(set(entries) & set(expected_open)):
        item, payment = entries[entry_id], world.payments[entry_id]
        shown = (item["status"], item["attempts"], item["payment_id"], item["amount"], item["type"])
        wanted = (*expected_open[entry_id], payment.payment_id, payment.amount, entry_type(payment))
        if shown != wanted:
            problems.append(f"{entry_id} listed as {shown}, expected {wanted}")
    return problems


def acted_on_problems(world: World) -> tuple[list[str], list[str]]:
    """The entries clicked on: (their state and audit, their charges at the sandbox)."""
    charges = world.charges()
    acted: list[str] = []
    by_entry: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for charge in charges:
        by_entry[charge["idempotency_key"].split(":retry:")[0]].append(charge)
    keys = Counter(charge["idempotency_key"] for charge in charges)
    charged = [f"{key} charged {n} times" for key, n in keys.items() if n > 1]
    charged += [
        f"{entry_id} charged, never retried"
        for entry_id in by_entry.keys() - world.plan.bursts.keys()
    ]
    for entry_id in sorted(world.plan.bursts):
        acted += burst_problems(world, entry_id)
        detail = world.entry(entry_id)
        status, attempts = world.expected(entry_id)
        if detail["status"] != status or (status != "recovered" and detail["attempts"] != attempts):
            acted.append(
                f"{entry_id}: {detail['status']} attempts {detail['attempts']}, "
                f"expected {status} attempts {attempts}"
            )
        audit = Counter(event["action"] for event in detail["audit"])
        retries, dismisses = world.accepted_retries(entry_id), world.accepted_dismisses(entry_id)
        if (audit["retry_requested"], audit["dismissed"]) != (retries, dismisses):
            acted.append(
                f"{entry_id}: audit has {audit['retry_requested']} retries and {audit['dismissed']}"
                f" dismisses, answered {retries} and {dismisses}"
            )
        charged += charge_problems(world, entry_id, detail["audit"], by_entry.get(entry_id, []))
    return acted, charged


def charge_problems(
    world: World, entry_id: str, audit: Sequence[dict[str, Any]], charges: Sequence[dict[str, Any]]
) -> list[str]:
    """One call per accepted retry, under the key of the attempt its audit names, answered as
    the sandbox decides for the token."""
    retries = world.accepted_retries(entry_id)
    attempts = {
        f"{entry_id}:retry:{event['detail']['attempt']}"
        for event in audit
        if event["action"] == "retry_requested"
    }
    keys = [charge["idempotency_key"] for charge in charges]
    problems = []
    if len(keys) != retries or set(keys) != attempts:
        problems.append(
            f"{entry_id}: charges {sorted(keys)} for {retries} accepted retries {sorted(attempts)}"
        )
    outcome = decide(world.payments[entry_id].token)
    return problems + [
        f"{c['idempotency_key']} answered {c['outcome']}, the sandbox decides {outcome}"
        for c in charges
        if c["outcome"] != outcome
    ]


def organization_problems(world: World) -> list[str]:
    problems = []
    for org in world.plan.organizations:
        answer = world.admins.request("GET", "GET /organization", "/organization", org)
        if answer is None or answer.status_code != 200 or answer.json()["name"] != f"Centre {org}":
            problems.append(f"{org}: {answer and answer.status_code}")
    return problems


def answer_problems(outcomes: Iterable[Outcome]) -> list[str]:
    """The same final answer to every delivery of a webhook-id; for each tracked payment exactly
    one webhook-id accepted (the others ignored); an untracked kind always ignored."""
    by_id: dict[str, set[str | None]] = defaultdict(set)
    accepted_ids: dict[str, set[str]] = defaultdict(set)
    problems = []
    payments = {}
    for outcome in outcomes:
        payment = outcome.delivery.payment
        assert payment is not None
        payments[payment.entry_id] = payment
        by_id[outcome.delivery.webhook_id].add(outcome.answer)
        if outcome.answer == "accepted":
            accepted_ids[payment.entry_id].add(outcome.delivery.webhook_id)
        elif outcome.answer != "ignored":
            problems.append(f"{outcome.delivery.webhook_id}: answered {outcome.answer}")
    problems += [f"{wid}: answered {sorted(map(str, a))}" for wid, a in by_id.items() if len(a) > 1]
    for entry_id, payment in payments.items():
        wanted = 1 if payment.tracked else 0
        if len(accepted_ids[entry_id]) != wanted:
            problems.append(
                f"{payment.payment_id} ({payment.kind.value} {payment.method.value}): "
                f"{len(accepted_ids[entry_id])} webhook-ids accepted, expected {wanted}"
            )
    return problems


def burst_problems(world: World, entry_id: str) -> list[str]:
    """Each click answered 202 / 200 or 409; at least one of them won, or the retry rules refused
    them all; at most one dismiss."""
    answers = [a for a in world.answers if a.entry_id == entry_id]
    problems = [
        f"{entry_id}: {a.click.action} by admin {a.click.admin} answered {a.status}"
        for a in answers
        if a.status not in ((202, 409) if a.click.action == "retry" else (200, 409))
    ]
    if len(answers) != len(world.plan.bursts[entry_id]):
        problems.append(
            f"{entry_id}: {len(answers)} answers to {len(world.plan.bursts[entry_id])} clicks"
        )
    # Unless the networks' or the banks' rules forbid the retry (domain/retry_rules.py: an
    # e-check returned for its details, `expired_card`): then every click is refused, by the
    # rules or, a click sent again under the same Idempotency-Key meanwhile, as in flight.
    codes = [a.body.get("code") if isinstance(a.body, dict) else None for a in answers]
    refused_by_rules = (
        "retry_not_allowed" in codes
        and all(a.status == 409 for a in answers)
        and set(codes) <= {"retry_not_allowed", "conflict"}
    )
    if not any(a.status in (200, 202) for a in answers) and not refused_by_rules:
        said = ", ".join(
            f"{a.click.action} {a.status} {a.body.get('code') if isinstance(a.body, dict) else ''}"
            for a in answers
        )
        problems.append(f"{entry_id}: no click won ({said})")
    if world.accepted_dismisses(entry_id) > 1:
        problems.append(f"{entry_id}: dismissed {world.accepted_dismisses(entry_id)} times")
    return problems


def event_problems(world: World) -> list[str]:
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for event in world.events():
        kinds[event["detail"].get("transaction_id", "")][event["detail_type"]] += 1
    problems = []
    for entry_id in {payment.entry_id for payment in world.plan.payments if payment.tracked}:
        status, _ = world.expected(entry_id)
        wanted = {"recovered": "PaymentRecovered", "dismissed": "TransactionDismissed"}.get(status)
        got = set(kinds.pop(entry_id, Counter()))
        if got != ({wanted} if wanted else set()):
            problems.append(f"{entry_id} ({status}): events {sorted(got)}")
    problems += [
        f"{entry_id}: events {dict(c)} for no entry of the run" for entry_id, c in kinds.items()
    ]
    return problems


# ------------------------------------------------------------------------------- the figures


def summary(
    plan: Plan,
    recorder: Recorder,
    outcomes: Sequence[Outcome],
    answers: Sequence[ClickAnswer],
    sending: float,
    acting: float,
    senders: int,
) -> dict[str, Any]:
    routes: dict[str, list[Call]] = defaultdict(list)
    for call in recorder.calls:
        routes[call.route].append(call)
    latency = {
        route: {
            "requests": len(calls),
            "p50_ms": ms(percentile([c.seconds for c in calls], 0.50)),
            "p95_ms": ms(percentile([c.seconds for c in calls], 0.95)),
            "p99_ms": ms(percentile([c.seconds for c in calls], 0.99)),
            "statuses": dict(sorted(Counter(str(c.status) for c in calls).items())),
        }
        for route, calls in sorted(routes.items())
    }
    roles = Counter(o.delivery.role for o in outcomes)
    return {
        "webhooks": len(outcomes),
        "senders": senders,
        "organizations": len(plan.organizations),
        "sending_seconds": round(sending, 2),
        "webhooks_per_second": round(len(outcomes) / sending, 1),
        "deliveries_per_second": round(
            sum(1 for c in recorder.calls if c.route.startswith("POST /webhooks")) / sending, 1
        ),
        "clicking_seconds": round(acting, 2),
        "deliveries": {
            "originals": roles["original"],
            "redeliveries": roles["redelivery"],
            "new_webhook_ids": roles["new_id"],
            "answers": dict(Counter(str(o.answer) for o in outcomes)),
            "retried_409": sum(
                1 for c in recorder.calls if c.route == f"POST {PAYMENTS}" and c.status == 409
            ),
            "retried_5xx": sum(
                1 for c in recorder.calls if c.route == f"POST {PAYMENTS}" and c.status >= 500
            ),
            "first_attempt_5xx": sum(1 for o in outcomes if o.first_status >= 500),
            "connection_errors": sum(1 for c in recorder.calls if c.status == 0),
        },
        "entries": {
            "distinct_failed_payments": sum(1 for p in plan.payments if p.tracked),
            "untracked": sum(1 for p in plan.payments if not p.tracked),
            "bursts": len(plan.bursts),
            "clicks": len(answers),
            "clicks_by_answer": dict(
                sorted(Counter(f"{a.click.action} {a.status}" for a in answers).items())
            ),
            "idempotent_clicks": sum(1 for a in answers if a.click.idempotency_key),
        },
        "routes": latency,
    }


def print_report(report: Report) -> None:
    figures = report.figures
    print(
        f"{figures['webhooks']} webhooks from {figures['senders']} senders in"
        f" {figures['sending_seconds']} s: {figures['webhooks_per_second']} webhooks/s"
        f" ({figures['deliveries_per_second']} deliveries/s, retries included)"
    )
    print(json.dumps({k: v for k, v in figures.items() if k != "routes"}, indent=2))
    width = max(len(route) for route in figures["routes"])
    print(f"\n{'route':<{width}}  requests    p50 ms    p95 ms    p99 ms  statuses")
    for route, row in figures["routes"].items():
        statuses = ", ".join(f"{s}: {n}" for s, n in row["statuses"].items())
        print(
            f"{route:<{width}}  {row['requests']:>8}  {row['p50_ms']:>8}  {row['p95_ms']:>8}"
            f"  {row['p99_ms']:>8}  {statuses}"
        )
    print()
    for name, broken in report.invariants:
        print(f"{'ok    ' if not broken else 'FAILED'} {name}")
        for problem in broken[:20]:
            print(f"         {problem}")
        if len(broken) > 20:
            print(f"         ... and {len(broken) - 20} more")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=5000, help="failure webhooks to send")
    parser.add_argument("--senders", type=int, default=32, help="concurrent senders")
    parser.add_argument(
        "--duplicates", type=float, default=0.2, help="share re-delivered (same webhook-id)"
    )
    parser.add_argument("--seed", type=int, default=1, help="the plan's seed")
    parser.add_argument("--organizations", type=int, default=8)
    parser.add_argument("--actions", type=float, default=0.1, help="share of entries clicked on")
    parser.add_argument("--url", help="a running local stack (default: start one on free ports)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=IDLE_TIMEOUT,
        help=f"seconds for the retries to be decided ({IDLE_TIMEOUT:g})",
    )
    args = parser.parse_args(argv)
    options = {
        "webhooks": args.webhooks,
        "senders": args.senders,
        "duplicates": args.duplicates,
        "seed": args.seed,
        "organizations": args.organizations,
        "actions": args.actions,
        "idle_timeout": args.idle_timeout,
    }
    if args.url:
        report = run(args.url.rstrip("/"), **options)
    else:
        with LocalStack(
            gateway_port=None, dynamodb_port=None, moto_port=None, oidc_port=None
        ) as stack:
            report = run(stack.url, stack=stack, **options)
    print_report(report)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
