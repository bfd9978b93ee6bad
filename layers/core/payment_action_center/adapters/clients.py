"""What a function's wiring is made of (the `Wiring` class of each functions/<name>/app.py): the
AWS SDK clients, one per service and container, and adapters built on first use. A path that never
calls a service does not pay for its client at cold start."""

from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from botocore.config import Config


@cache
def client(service: str) -> Any:
    return boto3.client(service)


@cache
def mail_client() -> Any:
    """SES v2 without SDK retries: a retried SendEmail after a read timeout could send a message
    twice. A refusal is retried by the next delivery of the queue message instead."""
    return boto3.client("sesv2", config=Config(retries={"total_max_attempts": 1}))


# SQS for a caller someone waits on (the API's retry): at most two attempts of 1 s to connect and
# 2 s to read, with the standard retry mode's backoff of at most 1 s between them: 7 s in all,
# inside the function's 10 s Timeout (template.yaml, Globals) with the DynamoDB writes before it.
# With the SDK's defaults (60 s each, and retries) a queue that does not answer outlasts the
# function: the retry, already recorded, would answer a 5xx where app/actions.py answers 202 and
# leaves the work to the watchdog (tests/e2e/test_faults.py).
QUEUE_CONNECT_SECONDS = 1
QUEUE_READ_SECONDS = 2
QUEUE_ATTEMPTS = 2
QUEUE_BACKOFF_SECONDS = 1  # the standard mode's first backoff: random() * 2**0


@cache
def queue_client() -> Any:
    return boto3.client(
        "sqs",
        config=Config(
            connect_timeout=QUEUE_CONNECT_SECONDS,
            read_timeout=QUEUE_READ_SECONDS,
            retries={"mode": "standard", "total_max_attempts": QUEUE_ATTEMPTS},
        ),
    )


class built[T]:
    """A Wiring attribute whose adapter is built on first access, then kept on the instance for
    the warm container: `entries = built(lambda: DynamoEntryStore(client("dynamodb"), table))`."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, instance: object, owner: type | None = None) -> T:
        value = self._build()
        # An instance attribute of the same name hides this (non-data) descriptor from now on.
        setattr(instance, self._name, value)
        return value
