"""Adapters for SQS (the retry and digest queues), EventBridge (the bus) and SES v2 (email)."""

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from payment_action_center.adapters.aws.mime import mime_message
from payment_action_center.domain.entries import BusEvent
from payment_action_center.ports import (
    Email,
    MailerError,
    MailerOutcomeUnknown,
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


class SesMailer:
    """SES v2 SendEmail with a Raw MIME message: both parts and our own headers
    (List-Unsubscribe) go as built."""

    def __init__(self, client: Any, configuration_set: str | None = None) -> None:
        self._client = client
        self._configuration_set = configuration_set or None

    def send(self, sender: str, to: str, email: Email) -> None:
        request: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {"Raw": {"Data": mime_message(email, sender=sender, to=to)}},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            self._client.send_email(**request)
        except ClientError as error:  # SES answered: not accepted
            code = str(error.response.get("Error", {}).get("Code") or "refused")
            raise MailerError(str(error), code=code) from error
        except BotoCoreError as error:  # no answer: it may have been accepted
            raise MailerOutcomeUnknown(str(error)) from error


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
