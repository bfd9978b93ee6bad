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
