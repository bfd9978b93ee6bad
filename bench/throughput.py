"""`python -m bench.throughput`: new-failure webhooks per second through the local gateway, and
where each one's time goes.

The local stack starts as the e2e tests start it (tests/e2e/conftest.py: in this process, on free
ports, its own DynamoDB Local). `senders` client threads, each with one keep-alive connection,
POST `total` deliveries of events/webhooks_payments_failed.json to /webhooks/payments, each for a
payment of its own (so each is a new failure) and signed as tools/send_event.py signs it. Every
answer must be the documented 200 {"status": "accepted"} (docs/contract.md §4.1).

A sender signs each delivery just before it sends it (a signature is good for five minutes; the
senders' CPU is reported apart, `cpu_ms_per_webhook.senders`). A first round of one delivery per
sender, not counted, starts the webhook function's workers (the cold starts).

The breakdown comes from the stack's own timing hooks (local/gateway.py `Gateway.observer`,
local/workers.py `Workers.observe`), set only here; each figure is the p50 and p99, in ms, over
the counted deliveries:

- `client`: the sender's request to its answer (the latency a sender sees: `p50_ms`, `p99_ms`);
- `gateway`: the gateway's time for the request, from its headers read to its answer written;
- `queue`: of that, the wait for an idle worker of the webhook function (the pool is smaller
  than the senders);
- `call`: of that, the worker's round trip: the event written to its pipe until its reply is read;
- `handler`: of that, the handler's own time, as the worker measured it (signature check,
  pydantic, its DynamoDB Local write);
- `handler_cpu`: of that, the worker's CPU time; `handler_wait`: the rest, `handler` less
  `handler_cpu`: waiting for its one DynamoDB Local TransactWriteItems (the secret is cached),
  or for a core;
- `pipes`: `call` less `handler`: JSON both ways, the pipes, and the wait for the gateway's
  thread to be scheduled again;
- `gateway_own`: `gateway` less `queue` and `call`: the gateway's work (body, route, event,
  answer) and its threads' waits for the GIL;
- `outside`: `client` less `gateway`: the request line and headers parsed, the bytes on
  loopback, and the sender's own thread.

`cpu_ms_per_webhook` (Linux: read from /proc) is the CPU each part of the stack spent during the
counted run, per delivery: `gateway` (this process but the senders' threads: the gateway, the
SQS pollers, the events tap, the console), `senders`, `workers` (every function's worker
processes), `dynamodb_local` (its Java), `moto` (the moto server); `cpu_busy` is all of it over
the run's length times the machine's cores (1.0: every core busy the whole run).
"""

import argparse
import http.client
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local import demo
from local.gateway import RequestTiming
from local.services import process_tree
from local.stack import LocalStack
from local.workers import InvokeTiming
from tools.send_event import http_sample, sample_body

SAMPLE = Path(__file__).resolve().parent.parent / "events" / "webhooks_payments_failed.json"
ROUTE = "/webhooks/payments"
FUNCTION = "WebhooksFunction"
ACCEPTED = (200, {"status": "accepted"})
PARTS = (
    "gateway",
    "queue",
    "call",
    "handler",
    "handler_cpu",
    "handler_wait",
    "pipes",
    "gateway_own",
    "outside",
)


class Refused(AssertionError):
    """A delivery was not answered 200 {"status": "accepted"}."""


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `fraction` of them at or
    below it (p50 of [1, 2, 3, 4] is 2, p99 of 100 values the 99th)."""
    if not values:
        raise ValueError("no values")
    if not 0 < fraction <= 1:
        raise ValueError(f"a fraction in (0, 1], not {fraction}")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil without floats' surprises
    return ordered[int(rank) - 1]


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]


SAMPLE_EVENT: dict[str, Any] = json.loads(sample_body(http_sample(SAMPLE)))


def delivery(secret: str, payment_id: str) -> Delivery:
    """The sample's failure for `payment_id`, occurred and signed now."""
    now = datetime.now(UTC)
    event = {
        **SAMPLE_EVENT,
        "occurred_at": demo.rfc3339(now, timespec="milliseconds"),
        "data": {**SAMPLE_EVENT["data"], "payment_id": payment_id},
    }
    text = json.dumps(event, ensure_ascii=False)
    headers = demo.signed_headers(secret, f"msg_{uuid.uuid4().hex}", text, now)
    return Delivery(text.encode(), headers)


def payment_ids(run: str, count: int) -> list[str]:
    return [f"pay_bench_{run}_{number:06d}" for number in range(count)]


@dataclass
class Recorder:
    """Collects the stack's timing hooks' reports. The gateway serves a request and invokes its
    function in one thread, so a thread's last invocation belongs to its next answer."""

    gateway: list[tuple[RequestTiming, InvokeTiming | None]] = field(default_factory=list)
    _pending: threading.local = field(default_factory=threading.local)

    def invoked(self, timing: InvokeTiming) -> None:
        self._pending.invoke = timing

    def answered(self, timing: RequestTiming) -> None:
        invoke, self._pending.invoke = getattr(self._pending, "invoke", None), None
        if timing.target == ROUTE:
            self.gateway.append((timing, invoke))  # list.append: atomic under the GIL


@dataclass
class Sent:
    latencies: list[float]  # each delivery's, in seconds
    cpu: float  # CPU seconds of the senders' threads


def send_all(url: str, secret: str, batches: Sequence[Sequence[str]]) -> Sent:
    """Each batch of payments' failures sent in order by a thread of its own on one keep-alive
    connection; every answer checked."""

    def sender(batch: Sequence[str]) -> Sent:
        connection = connect(url, timeout=120)
        latencies = []
        cpu = time.thread_time()
        try:
            for payment_id in batch:
                signed = delivery(secret, payment_id)
                started = time.perf_counter()
                connection.request("POST", ROUTE, body=signed.body, headers=signed.headers)
                answer = connection.getresponse()
                data = answer.read()
                latencies.append(time.perf_counter() - started)
                if (answer.status, json.loads(data or b"null")) != ACCEPTED:
                    raise Refused(f"POST {ROUTE} -> {answer.status} {data[:300]!r}")
        finally:
            connection.close()
        return Sent(latencies, time.thread_time() - cpu)

    with ThreadPoolExecutor(len(batches), thread_name_prefix="sender") as pool:
        found = list(pool.map(sender, batches))
    return Sent([x for sent in found for x in sent.latencies], sum(sent.cpu for sent in found))


def cpu_seconds() -> dict[str, float] | None:
    """CPU seconds so far of this process and of each kind of process it started (their
    children included): None where /proc cannot tell (not Linux)."""
    try:
        children = descendants(os.getpid())
    except OSError:
        return None
    found = {"process": time.process_time(), "workers": 0.0, "dynamodb_local": 0.0, "moto": 0.0}
    for pid, command in children.items():
        kind = (
            "workers"
            if "lambda_worker.py" in command
            else "dynamodb_local"
            if "DynamoDBLocal.jar" in command
            else "moto"
            if "local.moto_server" in command
            else None
        )
        if kind is not None:
            found[kind] += process_cpu(pid)
    return found


def descendants(root: int) -> dict[int, str]:
    """Every live process under `root` (local/services.py's process_tree): its command line."""
    found: dict[int, str] = {}
    for pid in process_tree(root)[1:]:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        found[pid] = command.replace(b"\0", b" ").decode(errors="replace")
    return found


def process_cpu(pid: int) -> float:
    """User and system CPU seconds of a live process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def split[T](items: Sequence[T], parts: int) -> list[Sequence[T]]:
    return [items[index::parts] for index in range(parts)]


@contextmanager
def observed(stack: LocalStack) -> Iterator[Recorder]:
    assert stack.gateway is not None and stack.workers is not None
    recorder = Recorder()
    stack.gateway.observer = recorder.answered
    stack.workers.observe(recorder.invoked)
    try:
        yield recorder
    finally:
        stack.gateway.observer = None
        stack.workers.observe(None)


def breakdown(client: Sequence[float], recorder: Recorder) -> dict[str, Any]:
    """p50 and p99 of each part, in ms (see the module's docstring)."""
    served = [(request, invoke) for request, invoke in recorder.gateway if invoke is not None]
    parts: dict[str, list[float]] = {name: [] for name in PARTS}
    for request, invoke in served:
        parts["gateway"].append(request.seconds)
        parts["queue"].append(invoke.queued)
        parts["call"].append(invoke.call)
        parts["handler"].append(invoke.handler)
        parts["handler_cpu"].append(invoke.handler_cpu)
        parts["handler_wait"].append(invoke.handler - invoke.handler_cpu)
        parts["pipes"].append(invoke.call - invoke.handler)
        parts["gateway_own"].append(request.seconds - invoke.queued - invoke.call)
    # Client and gateway figures are not paired request by request: `outside` compares medians.
    found: dict[str, Any] = {}
    for name, values in parts.items():
        if name == "outside" or not values:
            continue
        found[f"{name}_ms_p50"] = ms(percentile(values, 0.50))
        found[f"{name}_ms_p99"] = ms(percentile(values, 0.99))
    if parts["gateway"]:
        found["outside_ms_p50"] = ms(percentile(client, 0.50) - percentile(parts["gateway"], 0.50))
    found["cold_starts_counted"] = sum(1 for _, invoke in served if invoke.cold)
    return found


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def measure(senders: int = 32, total: int = 640, stack: LocalStack | None = None) -> dict[str, Any]:
    """Webhooks per second with `senders` concurrent senders over `total` deliveries, the
    latencies and their breakdown (JSON-able). On `stack` if given (running), else on a local
    stack of its own."""
    if stack is None:
        with LocalStack(
            gateway_port=None, dynamodb_port=None, moto_port=None, oidc_port=None
        ) as own:
            return measure(senders, total, own)
    if senders < 1 or total < senders:
        raise ValueError(f"at least one sender and one delivery each ({senders=}, {total=})")
    assert stack.workers is not None
    secret = webhook_secret(stack.url)
    run = uuid.uuid4().hex[:8]
    send_all(stack.url, secret, split(payment_ids(run + "w", senders), senders))
    cpu_before = cpu_seconds()
    with observed(stack) as recorder:
        started = time.perf_counter()
        sent = send_all(stack.url, secret, split(payment_ids(run, total), senders))
        elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds()
    figure = {
        "count": round(total / elapsed),
        "senders": senders,
        "sent": total,
        "seconds": round(elapsed, 2),
        "p50_ms": ms(percentile(sent.latencies, 0.50)),
        "p99_ms": ms(percentile(sent.latencies, 0.99)),
        "workers": stack.workers.pools[FUNCTION].size,
        **breakdown(sent.latencies, recorder),
    }
    if cpu_before is not None and cpu_after is not None:
        spent = {kind: cpu_after[kind] - cpu_before[kind] for kind in cpu_before}
        spent["gateway"] = spent.pop("process") - sent.cpu
        spent["senders"] = sent.cpu
        figure["cpu_ms_per_webhook"] = {
            kind: round(seconds / total * 1000, 1) for kind, seconds in sorted(spent.items())
        }
        figure["cpu_busy"] = round(sum(spent.values()) / (elapsed * (os.cpu_count() or 1)), 2)
    return figure


def connect(url: str, timeout: float) -> http.client.HTTPConnection:
    address = urlsplit(url)
    return http.client.HTTPConnection(address.hostname or "", address.port, timeout=timeout)


def webhook_secret(url: str) -> str:
    """The payments endpoint's local key, as tools/send_event.py reads it."""
    connection = connect(url, timeout=30)
    try:
        connection.request("GET", "/_local/webhook-secrets")
        answer = connection.getresponse()
        assert answer.status == 200, answer.status
        return str(json.loads(answer.read())["payments"])
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--total", type=int, default=640)
    args = parser.parse_args()
    figure = measure(args.senders, args.total)
    print(json.dumps(figure, indent=2))


if __name__ == "__main__":
    main()
