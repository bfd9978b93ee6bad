"""Log keys belong to one invocation: a warm function never labels a request with the last one's."""

import contextlib
import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from tests.shared import factories
from tests.shared.lambdas import (
    ROOT,
    Context,
    answer,
    as_json,
    cold_start,
    http_event,
)
from tests.shared.retry_events import pending_retry, sqs_event
from tests.unit.handlers.test_api import ADMIN
from tests.unit.handlers.test_webhooks import deliver

FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))

type LogLines = Callable[[], list[dict[str, Any]]]


class CurrentStdout:
    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def logged(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> LogLines:
    """The JSON log lines written since the last read (EMF metric lines left out)."""
    # Every function logs as the same service, through the handler made by whichever test came
    # first, bound to the stdout of that moment: make it write to the stdout of each moment.
    monkeypatch.setattr(Logger().registered_handler, "stream", CurrentStdout())

    def read() -> list[dict[str, Any]]:
        lines = (json.loads(line) for line in capsys.readouterr().out.splitlines() if line)
        return [line for line in lines if "level" in line]

    return read


def test_a_refused_webhook_is_not_logged_with_the_previous_deliverys_id(logged: LogLines) -> None:
    webhooks = cold_start("webhooks")
    assert deliver(webhooks, as_json(factories.payment_failed()), webhook_id="msg_ok")[0] == 200
    [handled] = logged()
    assert handled["webhook_id"] == "msg_ok"

    body = as_json(factories.payment_failed())
    assert deliver(webhooks, body, headers={"content-type": "application/json"})[0] == 401
    [refused] = logged()
    assert refused["message"] == "webhook refused"
    assert "webhook_id" not in refused


def test_a_request_is_not_logged_with_the_previous_callers_ids(
    logged: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = cold_start("api")
    # The API logs nothing of its own yet: a line at the end of each request stands for any.
    resolve = api.app.resolve

    def resolve_then_log(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = resolve(event, context)
        api.logger.info("request answered")
        return response

    monkeypatch.setattr(api.app, "resolve", resolve_then_log)
    listed = api.lambda_handler(http_event("GET", "/transactions", claims=ADMIN), Context())
    assert answer(listed)[0] == 200
    [first] = logged()
    assert (first["org_id"], first["user_id"]) == ("org_demo", "user_1")

    document = api.lambda_handler(http_event("GET", "/openapi.json"), Context())
    assert answer(document)[0] == 200
    [second] = logged()
    assert "org_id" not in second and "user_id" not in second


def test_a_batch_is_not_logged_with_the_previous_batchs_entry(
    logged: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = cold_start("retry_worker")
    # Each batch logs a line once its records are done, as a batch-level log call would.
    process = worker.partial_response

    def process_then_log(*args: Any, **options: Any) -> dict[str, Any]:
        response: dict[str, Any] = process(*args, **options)
        worker.logger.info("batch done")
        return response

    monkeypatch.setattr(worker, "partial_response", process_then_log)
    entry_id, event = pending_retry()
    assert worker.lambda_handler(event, Context()) == {"batchItemFailures": []}
    retried, done = logged()
    assert retried["entry_id"] == done["entry_id"] == entry_id

    malformed = worker.lambda_handler(sqs_event("not a retry"), Context())
    assert malformed == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    failed, done = logged()
    assert (failed["message"], failed["message_id"]) == ("record failed", "m0")
    for line in (failed, done):
        assert "entry_id" not in line and "attempt" not in line


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_starts_each_invocation_with_no_earlier_keys(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    monkeypatch.setenv("CARD_NOTICE_QUEUE_URL", "https://sqs.ca-central-1.amazonaws.com/1/notices")
    monkeypatch.setenv("PENDING_DEADLINE_CREDIT_CARD_MINUTES", "30")
    monkeypatch.setenv("PENDING_DEADLINE_ECHECK_HOURS", "120")
    fn = cold_start(function)
    fn.logger.append_keys(left_over="an earlier invocation")
    # The event need not be valid: the keys are cleared before the handler reads it.
    with contextlib.suppress(Exception):
        fn.lambda_handler({}, Context())
    assert "left_over" not in fn.logger.get_current_keys()


def test_a_worker_short_of_time_returns_its_records_unstarted(
    logged: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With less than RESERVE_MS left (a slow batch's tail) the record goes back to the queue
    untouched: its retry is still requested, nothing was charged."""
    worker = cold_start("retry_worker")
    entry_id, event = pending_retry()
    message_id = event["Records"][0]["messageId"]

    answer = worker.lambda_handler(event, Context(remaining_ms=worker.RESERVE_MS - 1))

    assert answer == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert [line["message"] for line in logged()] == ["batch cut short for time"]
    assert worker.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert logged()[0]["entry_id"] == entry_id
