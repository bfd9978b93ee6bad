"""Each function's peak memory: `peak_rss_mb.<function>` of `make bench` (bench/__main__.py).

For each function of the template, a fresh process started as its cold start (its code
directory, the layer's code on the path, its template environment; local/workers.py `runtime`)
imports the handler, runs one typical invocation against DynamoDB Local and a moto server
provisioned with the template's resources (bench/overhead.py `provisioned`, as the local stack
does), then reports its peak resident set in MB (2^20 bytes), the unit of a function's
MemorySize. The table is seeded first by the code the functions run (bench/counts.py):
organizations, cards and schedules, failures, a digest's failures and an admin who opted in,
requested retries.

The peak is the process's VmHWM (/proc/self/status, KB), not `getrusage(RUSAGE_SELF).ru_maxrss`:
Linux keeps ru_maxrss across fork and exec, so a process started by this one reports at least
this one's own peak (the benchmark's, about 90 MB) whatever it used itself. VmHWM is the
high-water mark of the address space exec gave it: the function's own.

The process runs only the standard library besides the handler, so what it holds is the
interpreter, the handler's imports and the invocation: what Lambda counts as "Max Memory Used",
but for the runtime's own client (awslambdaric), which this process does not load.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import counts
from bench.cold_start import ColdProcess, run_cold
from bench.counts import (
    CARDS,
    DIGEST_FAILURES,
    DIGEST_ORG,
    DIGEST_WINDOW_END,
    EVENTS,
    FAILURES,
    ORG,
    SCAN_AT,
    KeepingQueue,
)
from bench.overhead import LocalFunctions, WebhookDeliveries, list_event, provisioned
from local.dynamodb import client as local_client
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.app import actions
from payment_action_center.app.work import CardNoticeWork, DigestWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Caller, Role

# The child: the event, the handler imported, one invocation, its peak RSS and what it answered.
CHILD = """\
import json


def peak_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


event = json.loads({event!r})
import {module}
imported = peak_kb()

class Context:
    function_name = {function!r}
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:ca-central-1:123456789012:function:" + {function!r}
    memory_limit_in_mb = {memory}
    aws_request_id = "bench-memory"
    log_group_name = "/aws/lambda/" + {function!r}
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self):
        return 60_000

answer = {module}.{handler}(event, Context())
peak = peak_kb()
if isinstance(answer, dict) and "statusCode" in answer:
    answer = {{"statusCode": answer["statusCode"]}}
print(json.dumps({{"imported_kb": imported, "peak_kb": peak, "answer": answer}}))
"""


@dataclass(frozen=True)
class Invocation:
    event: dict[str, Any]
    described: str  # the figure's `event`
    expected: Callable[[Any], bool]  # what a good answer looks like


def http_ok(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("statusCode") == 200


def batch_ok(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("batchItemFailures") == []


def queued(count: int) -> Callable[[Any], bool]:
    """A scheduled run that queued `count` messages."""
    return lambda answer: isinstance(answer, dict) and answer.get("queued") == count


def watched(answer: Any) -> bool:
    """A watchdog run that did something to a retry (requeued, settled, flagged)."""
    done = {k: v for k, v in answer.items() if k != "now"} if isinstance(answer, dict) else {}
    return sum(done.values()) >= 1


def sqs_event(sample: str, body: str) -> dict[str, Any]:
    """The queue sample of events/ with one record carrying `body`."""
    event: dict[str, Any] = json.loads((EVENTS / sample).read_text())
    event["Records"] = [event["Records"][0] | {"body": body}]
    return event


def seed(ddb: Any, table: str) -> list[str]:
    """What the invocations work on (bench/counts.py's operations): ORG and DIGEST_ORG with
    cards expiring next month and their schedules, FAILURES open entries of ORG, DIGEST_FAILURES
    failures of DIGEST_ORG in its digest's window and an admin who opted in, and retries of two
    of ORG's entries requested by an admin. Returns the retry messages, in request order."""
    counts.billing_webhooks(ddb, table)
    _, entry_ids = counts.failures_and_pages(ddb, table)
    counts.digest_failures(ddb, table)
    entries = DynamoEntryStore(ddb, table)
    admin = Caller(ORG, "user_admin", "admin@example.com", frozenset({Role.BILLING_ADMIN}))
    queue = KeepingQueue()
    for entry_id in entry_ids[-2:]:
        actions.request_retry(entries, queue, admin, entry_id)
    return queue.sent


def invocations(retries: list[str]) -> dict[str, Invocation]:
    """A typical invocation of each function, on the seeded table."""
    # An hour after the retries were requested: the second, never run, is past its deadline.
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    return {
        "ApiFunction": Invocation(
            list_event(ORG),
            f"GET /transactions?limit=50, {FAILURES} open entries",
            http_ok,
        ),
        "WebhooksFunction": Invocation(
            WebhookDeliveries().next(), "POST /webhooks/payments, a new failure", http_ok
        ),
        "RetryWorkerFunction": Invocation(
            sqs_event("retry_worker_sqs.json", retries[0]),
            "one retry message, charged by the sandbox processor",
            batch_ok,
        ),
        "RetryWatchdogFunction": Invocation(
            {"scheduled_time": later.replace("+00:00", "Z")},
            "a run with one credit-card retry pending past its deadline",
            watched,
        ),
        "DailyDigestFunction": Invocation(
            {"scheduled_time": timestamps.display(DIGEST_WINDOW_END)},
            "the hourly run that queues 2 organizations' digests",
            queued(2),
        ),
        "DigestSenderFunction": Invocation(
            sqs_event(
                "digest_sender_sqs.json",
                DigestWork(DIGEST_ORG, DIGEST_WINDOW_END, "2026-11-20").body(),
            ),
            f"one digest message: {DIGEST_FAILURES} failures, 2 recipients, sent by SES",
            batch_ok,
        ),
        "CardExpiryScanFunction": Invocation(
            {"scheduled_time": timestamps.display(SCAN_AT)},
            "the daily scan, one organization with expiring cards",
            queued(1),
        ),
        "CardNoticeSenderFunction": Invocation(
            sqs_event("card_notice_sender_sqs.json", CardNoticeWork(ORG, SCAN_AT).body()),
            f"one notice message: {CARDS} expiring cards, sent by SES",
            batch_ok,
        ),
    }


def peak_rss(stack: LocalFunctions, name: str, invocation: Invocation) -> dict[str, Any]:
    function = stack.functions[name]
    module, _, handler = function.handler.rpartition(".")
    code = CHILD.format(
        event=json.dumps(invocation.event),
        module=module,
        handler=handler,
        function=name,
        memory=function.memory_size,
    )
    process = ColdProcess(function.code_dir, stack.environment(name), module)
    ran = json.loads(run_cold(code, process))
    assert invocation.expected(ran["answer"]), (name, ran["answer"])
    return {
        "count": round(ran["peak_kb"] / 1024, 1),
        "memory_size_mb": function.memory_size,
        "event": invocation.described,
        "after_import_mb": round(ran["imported_kb"] / 1024, 1),
    }


def measure(table: str) -> dict[str, dict[str, Any]]:
    with provisioned(table) as stack:
        retries = seed(local_client(stack.dynamodb), table)
        return {
            name: peak_rss(stack, name, invocation)
            for name, invocation in invocations(retries).items()
        }
