"""The answer of an SQS consumer with ReportBatchItemFailures (template.yaml,
`FunctionResponseTypes`): each record handled on its own, the ones that raised named in
`batchItemFailures`, so SQS delivers again only those, and after the queue's maxReceiveCount
moves them to its dead-letter queue.

Written here rather than with Powertools' BatchProcessor: its module imports the parser's pydantic
models of every AWS event source and every event data class (about 200 ms at each cold start of
the three consumers, docs/architecture.md §8), for a loop over a list. A batch whose every record
failed is answered the same way (not raised): SQS retries exactly those records, and an outage
downstream is not counted as a function error. For standard queues only (every queue of
template.yaml): on a FIFO queue the records after a failed one must be reported too, to keep
their order, and this answer does not.
"""

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger


def partial_response(
    event: Mapping[str, Any],
    handle: Callable[[str], object],
    logger: Logger,
    *,
    time_left_ms: Callable[[], int] | None = None,
    reserve_ms: int = 0,
) -> dict[str, list[dict[str, str]]]:
    """`handle` called with each record's body, in order; the records that raised reported.
    Each record starts from the invocation's log keys: what a record's handling appended (its
    entry, its organization) does not follow the next record into its lines.

    With `time_left_ms`, a record is started only while more than `reserve_ms` of the
    invocation remain; the others are reported unhandled, so SQS delivers them again instead of
    the whole batch coming back when the function times out mid-record."""
    invocation_keys = dict(logger.get_current_keys())
    failures: list[dict[str, str]] = []
    records = list(event.get("Records", []))
    for position, record in enumerate(records):
        message_id = record["messageId"]
        if time_left_ms is not None and time_left_ms() <= reserve_ms:
            left = [{"itemIdentifier": r["messageId"]} for r in records[position:]]
            logger.warning("batch cut short for time", extra={"records_returned": len(left)})
            return {"batchItemFailures": failures + left}
        logger.clear_state()
        logger.append_keys(**invocation_keys)
        try:
            handle(record["body"])
        except Exception:  # any failure of a record: SQS brings it back, the others are done
            logger.exception("record failed", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
