"""The SQS and SES adapters' own rules, with stub clients."""

from typing import Any

import pytest

from payment_action_center.adapters.aws.messaging import SqsQueue
from payment_action_center.adapters.aws.ses import SesMailer
from payment_action_center.app.work import DigestWork
from payment_action_center.ports import (
    Email,
    MailerError,
    QueueUnavailable,
)


class StubSqs:
    def __init__(self, refuse_first: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.refuse_first = refuse_first

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.batches.append([e["Id"] for e in Entries])
        refused = [{"Id": e["Id"]} for e in Entries[: self.refuse_first]]
        self.refuse_first = 0
        return {"Failed": refused}


def work(n: int) -> list[DigestWork]:
    return [
        DigestWork(f"org_{i}", "2026-11-25T11:00:00.000000000Z", "2026-11-25") for i in range(n)
    ]


def test_a_fan_out_goes_ten_messages_a_request() -> None:
    sqs = StubSqs()
    SqsQueue(sqs, "url").send_all(work(25))
    assert [len(b) for b in sqs.batches] == [10, 10, 5]


def test_messages_sqs_refused_are_sent_again() -> None:
    sqs = StubSqs(refuse_first=2)
    SqsQueue(sqs, "url").send_all(work(3))
    assert sqs.batches == [["0", "1", "2"], ["0", "1"]]


def test_a_queue_that_keeps_refusing_is_an_error_not_a_silent_loss() -> None:
    class Refusing(StubSqs):
        def send_message_batch(
            self, QueueUrl: str, Entries: list[dict[str, str]]
        ) -> dict[str, Any]:
            return {"Failed": [{"Id": e["Id"]} for e in Entries]}

    with pytest.raises(QueueUnavailable):
        SqsQueue(Refusing(), "url").send_all(work(2))


def test_an_ses_refusal_is_a_mailer_error_for_that_message() -> None:
    from botocore.exceptions import ClientError

    class Throttled:
        def send_email(self, **_: Any) -> None:
            raise ClientError(
                {"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SendEmail"
            )

    with pytest.raises(MailerError, match="TooManyRequests") as refused:
        SesMailer(Throttled()).send(
            "from@example.com", "to@example.com", Email("Hi", "<p>Hi</p>", "Hi", {})
        )
    assert refused.value.code == "TooManyRequestsException"
