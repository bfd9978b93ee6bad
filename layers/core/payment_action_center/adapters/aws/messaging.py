"""Adapters for SQS (the work queues) and EventBridge (the bus). SES is apart (adapters/aws/ses.py):
only the two sender functions send email, and only they load the MIME and address modules."""

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from payment_action_center.domain.entries import BusEvent
from payment_action_center.ports import (
    PublishFailed,
    QueueUnavailable,
    WorkMessage,
)

SOURCE = "payment-action-center"


class SqsQueue:
    """A work queue: RetryWork, DigestWork or CardNoticeWork, anything with a JSON body()."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, work: WorkMessage) -> None:
        try:
            self._client.send_message(QueueUrl=self._url, MessageBody=work.body())
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailable(str(error)) from error

    def send_all(self, work: Sequence[WorkMessage]) -> None:
        """SendMessageBatch, ten a request; entries SQS did not take are sent again."""
        for start in range(0, len(work), 10):
            entries = [
                {"Id": str(n), "MessageBody": item.body()}
                for n, item in enumerate(work[start : start + 10])
            ]
            for _ in range(3):
                try:
                    answer = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
                except (BotoCoreError, ClientError) as error:
                    raise QueueUnavailable(str(error)) from error
                failed = {f["Id"] for f in answer.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
                if not entries:
                    break
            if entries:
                raise QueueUnavailable(f"{len(entries)} messages were refused")


class EventBridgePublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, events: Sequence[BusEvent]) -> None:
        for start in range(0, len(events), 10):  # PutEvents takes ten entries at most
            batch = events[start : start + 10]
            try:
                answer = self._client.put_events(
                    Entries=[
                        {
                            "Source": SOURCE,
                            "DetailType": event.detail_type,
                            "Detail": json.dumps(event.detail),
                            "EventBusName": self._bus,
                        }
                        for event in batch
                    ]
                )
            except (BotoCoreError, ClientError) as error:
                raise PublishFailed(str(error)) from error
            if answer.get("FailedEntryCount", 0):
                raise PublishFailed(f"{answer['FailedEntryCount']} events were refused")
