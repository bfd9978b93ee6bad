"""GET /_local/events: every event put on the template's event buses, oldest first.

At start, each bus of the template gets a rule matching every event, whose target is the queue
`local-events-tap` on the moto server (EventBridge delivers to it as it would in AWS); a thread
drains that queue into a list, and reading the list drains it first, so that an event put before
the request is always in the answer.
"""

import json
import logging
import threading
from typing import Any

from local import config
from local.pollers import UNREACHABLE
from local.resources import Endpoints
from local.template import Document, LocalValues, resources

log = logging.getLogger("local.eventbus")

RULE = "local-events-tap"
EVERY_EVENT = {"source": [{"prefix": ""}]}  # every event has a source; "" prefixes them all


class EventsTap:
    """`EventsTap.of(template, values, endpoints)`, `start()`, `events()`, `stop()`."""

    def __init__(self, endpoints: Endpoints, buses: list[str]) -> None:
        self.buses = buses
        self._sqs = endpoints.client("sqs")
        self._queue_url = self._sqs.create_queue(
            QueueName=config.EVENTS_TAP_QUEUE, Attributes={"VisibilityTimeout": "300"}
        )["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        events = endpoints.client("events")
        for bus in buses:
            events.put_rule(
                Name=RULE,
                EventBusName=bus,
                EventPattern=json.dumps(EVERY_EVENT),
                State="ENABLED",
                Description="The local stack's GET /_local/events",
            )
            events.put_targets(
                Rule=RULE, EventBusName=bus, Targets=[{"Id": RULE, "Arn": queue_arn}]
            )
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def of(cls, template: Document, values: LocalValues, endpoints: Endpoints) -> "EventsTap":
        """The tap on every AWS::Events::EventBus of the template (provisioned already)."""
        buses = resources(template, "AWS::Events::EventBus")
        return cls(endpoints, [values.refs[logical_id] for logical_id in buses])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="events-tap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def events(self) -> list[dict[str, Any]]:
        """[{"detail_type", "detail"}], oldest first: everything put on the buses so far."""
        with self._lock:
            while self._drain():
                pass
            return list(self._events)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._lock:
                    drained = self._drain()
            except UNREACHABLE as error:
                if self._stopping.is_set():
                    return
                log.warning("events tap: %s unreachable: %s", config.EVENTS_TAP_QUEUE, error)
                self._stopping.wait(1.0)
                continue
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("events tap: reading %s failed", config.EVENTS_TAP_QUEUE)
                drained = 0
            if not drained:
                self._stopping.wait(0.2)

    def _drain(self) -> int:
        """Move what the queue holds into the list (with the lock held); how many there were."""
        answer = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages = answer.get("Messages") or []
        for message in messages:
            event = json.loads(message["Body"])
            self._events.append(
                {"detail_type": event.get("detail-type"), "detail": event.get("detail")}
            )
        if messages:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                    for number, message in enumerate(messages)
                ],
            )
        return len(messages)
