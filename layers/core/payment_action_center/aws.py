"""Adapters for SQS (the retry queue) and EventBridge (the bus)."""

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from payment_action_center.model import BusEvent
from payment_action_center.ports import PublishFailed
from payment_action_center.retries import QueueUnavailable, RetryWork

SOURCE = "payment-action-center"


class SqsRetryQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, work: RetryWork) -> None:
        try:
            self._client.send_message(QueueUrl=self._url, MessageBody=work.body())
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailable(str(error)) from error


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
