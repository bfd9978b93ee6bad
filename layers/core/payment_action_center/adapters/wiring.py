"""The adapters a function talks to, built on first use and kept for the warm container."""

from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from payment_action_center.adapters.aws.messaging import EventBridgePublisher, SesMailer, SqsQueue
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.digest_store import (
    DynamoCardNoticeLedger,
    DynamoDigestStore,
)
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.processors.choice import ProcessorName, processor_for
from payment_action_center.ports import PaymentProcessor


class Adapters:
    """One per function (module level): each client is created once, when first needed, so a
    path that does not use a service does not pay for its client at cold start."""

    def __init__(
        self,
        table_name: str,
        *,
        event_bus_name: str | None = None,
        retry_queue_url: str | None = None,
        digest_queue_url: str | None = None,
        card_notice_queue_url: str | None = None,
        processor: ProcessorName | None = None,
        ses_configuration_set: str | None = None,
    ) -> None:
        self._table = table_name
        self._bus = event_bus_name
        self._queue = retry_queue_url
        self._digest_queue = digest_queue_url
        self._card_notice_queue = card_notice_queue_url
        self._processor = processor
        self._configuration_set = ses_configuration_set

    @cached_property
    def dynamodb(self) -> Any:
        return boto3.client("dynamodb")

    @cached_property
    def entries(self) -> DynamoEntryStore:
        return DynamoEntryStore(self.dynamodb, self._table)

    @cached_property
    def billing(self) -> DynamoBillingStore:
        return DynamoBillingStore(self.dynamodb, self._table)

    @cached_property
    def publisher(self) -> EventBridgePublisher:
        assert self._bus is not None, "this function has no EVENT_BUS_NAME"
        return EventBridgePublisher(boto3.client("events"), self._bus)

    @cached_property
    def digests(self) -> DynamoDigestStore:
        return DynamoDigestStore(self.dynamodb, self._table)

    @cached_property
    def retry_queue(self) -> SqsQueue:
        assert self._queue is not None, "this function has no RETRY_QUEUE_URL"
        return SqsQueue(boto3.client("sqs"), self._queue)

    @cached_property
    def digest_queue(self) -> SqsQueue:
        assert self._digest_queue is not None, "this function has no DIGEST_QUEUE_URL"
        return SqsQueue(boto3.client("sqs"), self._digest_queue)

    @cached_property
    def card_notices(self) -> DynamoCardNoticeLedger:
        return DynamoCardNoticeLedger(self.dynamodb, self._table)

    @cached_property
    def card_notice_queue(self) -> SqsQueue:
        assert self._card_notice_queue is not None, "this function has no CARD_NOTICE_QUEUE_URL"
        return SqsQueue(boto3.client("sqs"), self._card_notice_queue)

    @cached_property
    def mailer(self) -> SesMailer:
        # No SDK retries: a retried SendEmail after a read timeout could send a digest twice.
        # A refusal is retried by the next delivery of the queue message instead.
        no_retries = Config(retries={"total_max_attempts": 1})
        return SesMailer(boto3.client("sesv2", config=no_retries), self._configuration_set)

    @cached_property
    def processor(self) -> PaymentProcessor:
        assert self._processor is not None, "this function has no PROCESSOR"
        return processor_for(self._processor, self.dynamodb, self._table)
