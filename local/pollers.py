"""Lambda's event source mappings for SQS, locally: every `Type: SQS` event of the template.

Each mapping has poller threads that long-poll its queue on the moto server, hand each batch to the
function (through the workers, as Lambda would: same handler, same event shape) and then delete
what succeeded. With ReportBatchItemFailures, that is every record the answer does not list in
`batchItemFailures`; without it, the whole batch. A handler error or a timeout fails the whole
batch: nothing is deleted, the messages come back after the queue's visibility timeout, and moto
applies the queue's RedrivePolicy (maxReceiveCount, then the dead-letter queue) as SQS does.
"""

import base64
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import HTTPClientError

from local import config
from local.resources import Endpoints
from local.template import LocalValues, SqsEventSource, resolve
from local.workers import FunctionError

log = logging.getLogger("local.pollers")

type Invoke = Callable[[str, dict[str, Any]], Any]

# The message attributes a Lambda SQS record carries (the FIFO ones only for a FIFO queue).
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
DELETE_BATCH = 10  # SQS's DeleteMessageBatch limit
# The moto server cannot be reached (it is stopping, say): one line in the log, no traceback.
UNREACHABLE = (BotocoreConnectionError, HTTPClientError)


def sqs_client(endpoints: Endpoints) -> Any:
    """An SQS client for the pollers: its reads outlast a long poll. Create it in one thread."""
    return endpoints.client(
        "sqs",
        config=Config(
            read_timeout=config.POLL_WAIT_SECONDS + 30,
            connect_timeout=5,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )


def message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """An SQS message attribute as Lambda writes it in a record (camelCase, binary in base64)."""
    found: dict[str, Any] = {}
    if "StringValue" in value:
        found["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        found["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return found | {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}


def record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The Lambda SQS event record of a received message."""
    attributes = message.get("Attributes") or {}
    found: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {name: attributes[name] for name in RECORD_ATTRIBUTES if name in attributes},
        "messageAttributes": {
            name: message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
    }
    if message.get("MD5OfMessageAttributes"):
        found["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return found | {
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def failed_records(result: Any, message_ids: Sequence[str]) -> set[str]:
    """The records a ReportBatchItemFailures answer fails, read as Lambda reads it.

    None, {} and an empty or null `batchItemFailures` are a success; an answer Lambda cannot read
    (not an object, an item without a known `itemIdentifier`) fails the whole batch.
    """
    if result is None:
        return set()
    if not isinstance(result, dict):
        return set(message_ids)
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not (isinstance(identifier, str) and identifier in message_ids):
            return set(message_ids)
        failed.add(identifier)
    return failed


@dataclass(frozen=True)
class Mapping:
    """An event source mapping with its local values."""

    function_id: str
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window: float
    report_batch_item_failures: bool
    concurrency: int
    visibility_timeout: int

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[1]


class Activity:
    """What every poller of the stack is doing, for `EventSourceMappings.idle`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.busy = 0  # batches received and not yet done with
        self.received = 0  # batches received so far: any change means work happened


class SqsPoller:
    """One mapping's threads: receive a batch, invoke the function, delete what succeeded."""

    def __init__(
        self,
        mapping: Mapping,
        invoke: Invoke,
        clients: Sequence[Any],
        activity: Activity,
        stopping: threading.Event,
    ) -> None:
        self.mapping = mapping
        self.invoke = invoke
        self.activity = activity
        self.stopping = stopping
        self.invocations = 0
        self._clients = clients
        self._threads: list[threading.Thread] = []
        self._parked: dict[str, float] = {}  # failed message id -> when it is visible again
        self._lock = threading.Lock()

    def start(self) -> None:
        for number, client in enumerate(self._clients, start=1):
            thread = threading.Thread(
                target=self._run,
                args=(client,),
                name=f"sqs-{self.mapping.function_id}-{number}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float | None = None) -> None:
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def parked(self) -> int:
        """Messages a failed invocation left in flight, still waiting out their visibility."""
        now = time.monotonic()
        with self._lock:
            for message_id in [m for m, at in self._parked.items() if at <= now]:
                del self._parked[message_id]
            return len(self._parked)

    def _run(self, sqs: Any) -> None:
        while not self.stopping.is_set():
            try:
                messages, received_at = self._receive(sqs)
            except UNREACHABLE as error:
                if not self.stopping.is_set():
                    log.warning("sqs: %s unreachable: %s", self.mapping.queue_name, error)
                    self.stopping.wait(1.0)
                continue
            except Exception:
                if not self.stopping.is_set():
                    log.exception("sqs: receiving from %s failed", self.mapping.queue_name)
                    self.stopping.wait(1.0)
                continue
            if not messages:
                continue
            try:
                if not self.stopping.is_set():
                    self._process(sqs, messages, received_at)
            except Exception:
                if not self.stopping.is_set():
                    log.exception("sqs: a batch from %s failed", self.mapping.queue_name)
            finally:
                with self.activity.lock:
                    self.activity.busy -= 1

    def _receive(self, sqs: Any) -> tuple[list[dict[str, Any]], float]:
        """A batch as Lambda gathers one: up to BatchSize, within the batching window.

        The window is cut to half the visibility timeout (a test's short one): a message must not
        come back into the batch it is already in.
        """
        mapping = self.mapping
        first = self._receive_once(sqs, mapping.batch_size, config.POLL_WAIT_SECONDS)
        if not first:
            return [], 0.0
        received_at = time.monotonic()
        with self.activity.lock:  # counted at once: in flight from now until deleted or parked
            self.activity.busy += 1
            self.activity.received += 1
        batch = {message["MessageId"]: message for message in first}
        deadline = received_at + min(mapping.batching_window, mapping.visibility_timeout / 2)
        while len(batch) < mapping.batch_size and not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                more = self._receive_once(sqs, mapping.batch_size - len(batch), 0)
            except Exception:  # the batch so far goes on its way
                log.exception("sqs: receiving from %s failed", mapping.queue_name)
                break
            for message in more:  # received again: its newest receipt handle is the valid one
                batch[message["MessageId"]] = message
            if not more:
                time.sleep(min(0.05, remaining))
        return list(batch.values()), received_at

    def _receive_once(self, sqs: Any, count: int, wait: int) -> list[dict[str, Any]]:
        answer = sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=min(count, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=wait,
        )
        messages: list[dict[str, Any]] = answer.get("Messages") or []
        with self._lock:
            for message in messages:
                self._parked.pop(message["MessageId"], None)
        return messages

    def _process(self, sqs: Any, messages: list[dict[str, Any]], received_at: float) -> None:
        mapping = self.mapping
        event = {"Records": [record(message, mapping.queue_arn) for message in messages]}
        ids = [message["MessageId"] for message in messages]
        self.invocations += 1
        try:
            result = self.invoke(mapping.function_id, event)
        except FunctionError as error:
            if self.stopping.is_set():
                return
            log.warning(
                "sqs: %s failed a batch of %d from %s (%s): redelivered after %d s",
                mapping.function_id,
                len(ids),
                mapping.queue_name,
                error,
                mapping.visibility_timeout,
            )
            failed = set(ids)
        else:
            failed = failed_records(result, ids) if mapping.report_batch_item_failures else set()
            if failed:
                log.info(
                    "sqs: %s reported %d of %d records of %s failed: redelivered after %d s",
                    mapping.function_id,
                    len(failed),
                    len(ids),
                    mapping.queue_name,
                    mapping.visibility_timeout,
                )
        done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), DELETE_BATCH):
            chunk = done[start : start + DELETE_BATCH]
            answer = sqs.delete_message_batch(
                QueueUrl=mapping.queue_url,
                Entries=[
                    {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                    for number, message in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed") or []:
                log.warning("sqs: deleting from %s failed: %s", mapping.queue_name, failure)
        with self._lock:
            visible_again = received_at + mapping.visibility_timeout
            for message_id in failed:
                self._parked[message_id] = visible_again


class EventSourceMappings:
    """Every SQS event source mapping of the template: `start()`, `stop()`, `wait_for_idle()`."""

    def __init__(
        self,
        sources: Sequence[SqsEventSource],
        values: LocalValues,
        endpoints: Endpoints,
        invoke: Invoke,
    ) -> None:
        self.activity = Activity()
        self.stopping = threading.Event()
        self._sqs = sqs_client(endpoints)  # for the idle checks (clients are thread-safe)
        self.pollers: list[SqsPoller] = []
        for source in sources:
            if str(resolve(source.enabled, values)).lower() == "false":
                continue
            mapping = self._mapping(source, values)
            clients = [sqs_client(endpoints) for _ in range(mapping.concurrency)]
            self.pollers.append(SqsPoller(mapping, invoke, clients, self.activity, self.stopping))

    def _mapping(self, source: SqsEventSource, values: LocalValues) -> Mapping:
        queue_arn = str(resolve(source.queue, values))
        queue_url = self._sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])["QueueUrl"]
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        limit = config.MAX_WORKERS_PER_FUNCTION
        return Mapping(
            function_id=source.function_id,
            queue_arn=queue_arn,
            queue_url=queue_url,
            batch_size=source.batch_size,
            batching_window=source.batching_window,
            report_batch_item_failures=source.report_batch_item_failures,
            concurrency=min(source.maximum_concurrency or limit, limit),
            visibility_timeout=int(attributes["VisibilityTimeout"]),
        )

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self) -> None:
        """Ask the pollers to stop (each ends within a long poll or its current invocation)."""
        self.stopping.set()

    def join(self, timeout: float | None = None) -> None:
        for poller in self.pollers:
            poller.join(timeout)

    def idle(self) -> bool:
        """No message visible, delayed or in flight in any source queue, no batch in hand.

        A message a failed invocation left in flight ("parked" until its visibility timeout ends)
        does not count: the run that failed on it is over; its redelivery is a later run.
        """
        with self.activity.lock:
            if self.activity.busy:
                return False
            received = self.activity.received
        for poller in self.pollers:
            counts = self._sqs.get_queue_attributes(
                QueueUrl=poller.mapping.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesDelayed",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if int(counts["ApproximateNumberOfMessages"]) or int(
                counts["ApproximateNumberOfMessagesDelayed"]
            ):
                return False
            if int(counts["ApproximateNumberOfMessagesNotVisible"]) > poller.parked():
                return False
        with self.activity.lock:  # nothing received meanwhile: the counts are one moment's
            return not self.activity.busy and self.activity.received == received

    def wait_for_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self.idle():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def busy_queues(self) -> list[str]:
        """The source queues not idle now (for an error message)."""
        busy = []
        for poller in self.pollers:
            counts = self._sqs.get_queue_attributes(
                QueueUrl=poller.mapping.queue_url, AttributeNames=["All"]
            )["Attributes"]
            waiting = sum(
                int(counts[name])
                for name in (
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesDelayed",
                    "ApproximateNumberOfMessagesNotVisible",
                )
            )
            if waiting > poller.parked():
                busy.append(f"{poller.mapping.queue_name} ({waiting} messages)")
        return busy
