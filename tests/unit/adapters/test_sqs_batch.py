"""The SQS consumers' partial batch answer (adapters/aws/sqs_batch.py)."""

import io
import json
import logging

from aws_lambda_powertools import Logger

from payment_action_center.adapters.aws.sqs_batch import partial_response

LOGGER = Logger(service="test-sqs-batch")


def records(*bodies: str) -> dict[str, list[dict[str, str]]]:
    return {"Records": [{"messageId": f"m{n}", "body": body} for n, body in enumerate(bodies)]}


def test_each_record_is_handled_in_order_and_only_the_failed_ones_are_reported() -> None:
    seen: list[str] = []

    def handle(body: str) -> None:
        seen.append(body)
        if body.startswith("bad"):
            raise ValueError(body)

    answer = partial_response(records("one", "bad two", "three", "bad four"), handle, LOGGER)
    assert seen == ["one", "bad two", "three", "bad four"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}


def test_a_batch_whose_every_record_failed_is_answered_not_raised() -> None:
    def handle(body: str) -> None:
        raise RuntimeError("downstream is down")

    answer = partial_response(records("a", "b"), handle, LOGGER)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}


def test_no_records_no_failures() -> None:
    assert partial_response({"Records": []}, lambda body: None, LOGGER) == {"batchItemFailures": []}
    assert partial_response({}, lambda body: None, LOGGER) == {"batchItemFailures": []}


def test_a_failed_record_is_logged_by_message_id_with_its_exception() -> None:
    written = io.StringIO()
    logger = Logger(service="test-sqs-batch-log", logger_handler=logging.StreamHandler(written))

    def handle(body: str) -> None:
        raise ValueError("not a unit of work")

    partial_response(records("x"), handle, logger)
    [line] = [json.loads(text) for text in written.getvalue().splitlines()]
    assert (line["message"], line["message_id"], line["level"]) == ("record failed", "m0", "ERROR")
    assert line["exception_name"] == "ValueError"


def test_a_record_does_not_log_with_the_previous_records_keys() -> None:
    written = io.StringIO()
    logger = Logger(service="test-sqs-batch-keys", logger_handler=logging.StreamHandler(written))
    logger.append_keys(function_request_id="req-1")  # as inject_lambda_context adds its own

    def handle(body: str) -> None:
        if body == "bad":
            raise ValueError("not a unit of work")
        logger.append_keys(entry_id=body)
        logger.info("handled")

    partial_response(records("ent_1", "bad", "ent_3"), handle, logger)
    first, failed, third = [json.loads(text) for text in written.getvalue().splitlines()]
    assert (first["entry_id"], third["entry_id"]) == ("ent_1", "ent_3")
    assert failed["message"] == "record failed" and "entry_id" not in failed
    assert {line["function_request_id"] for line in (first, failed, third)} == {"req-1"}


def test_records_are_started_only_while_the_reserve_of_time_is_left() -> None:
    """A record that could outlast the invocation goes back to the queue unstarted, with the
    ones after it; the ones done stay done (functions/retry_worker/app.py RESERVE_MS)."""
    left = iter([50_000, 31_000, 29_000])
    seen: list[str] = []

    def handle(body: str) -> None:
        seen.append(body)
        if body.startswith("bad"):
            raise ValueError(body)

    answer = partial_response(
        records("a", "bad b", "c", "d"),
        handle,
        LOGGER,
        time_left_ms=lambda: next(left),
        reserve_ms=30_000,
    )

    assert seen == ["a", "bad b"]
    assert answer == {
        "batchItemFailures": [
            {"itemIdentifier": "m1"},
            {"itemIdentifier": "m2"},
            {"itemIdentifier": "m3"},
        ]
    }
