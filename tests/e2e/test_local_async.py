"""The local stack's asynchronous side: SQS event sources as Lambda polls them, the tap on the event
bus (GET /_local/events), schedules run on demand (POST /_local/schedules/<name>) and the sandbox
processor's endpoints. A throwaway template and handlers where the real ones would not tell."""

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local import config
from local.pollers import failed_records
from local.stack import LocalStack
from local.template import kebab, load, schedules
from tests.e2e.conftest import Api

HANDLERS = """
import json, os, time, uuid

import boto3

SEEN = os.environ["SEEN_DIR"]


def consume(event, context):
    path = os.path.join(SEEN, f"{time.time_ns()}-{uuid.uuid4().hex}.json")
    with open(path + ".part", "w") as seen:
        json.dump(event, seen)
    os.replace(path + ".part", path)
    records = event["Records"]
    bodies = [json.loads(record["body"]) for record in records]
    for body in bodies:
        time.sleep(body.get("sleep", 0))
    for body, record in zip(bodies, records):
        if body["kind"] == "raise" and record["attributes"]["ApproximateReceiveCount"] == "1":
            raise RuntimeError("the whole batch fails the first time")
    return {"batchItemFailures": [
        {"itemIdentifier": record["messageId"]}
        for body, record in zip(bodies, records) if body["kind"] == "fail"
    ]}


def fan_out(event, context):
    sqs = boto3.client("sqs")
    for number in range(event["n"]):
        body = {"kind": "ok", "sleep": 0.1, "tag": event["scheduled_time"], "number": number}
        sqs.send_message(QueueUrl=os.environ["JOBS_QUEUE_URL"], MessageBody=json.dumps(body))
    return {"got": event, "sent": event["n"]}


def hook(event, context):
    from standardwebhooks.webhooks import Webhook

    body = Webhook(os.environ["HOOK_SECRET"]).verify(event["body"], event["headers"])
    if body["data"]["retry_of"] == "txn_refused":
        return {"statusCode": 400, "body": json.dumps({"code": "refused"})}
    answer = {"status": "accepted", "type": body["type"], "retry_of": body["data"]["retry_of"],
              "occurred_at": body["occurred_at"], "webhook_id": event["headers"]["webhook-id"]}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(answer)}
"""

TEMPLATE = """
Globals:
  Function:
    Runtime: python3.13
    Timeout: 10
    Environment:
      Variables:
        SEEN_DIR: {seen}
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 180
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt JobsDeadLetters.Arn
        maxReceiveCount: 2
  JobsDeadLetters:
    Type: AWS::SQS::Queue
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub toy-bus-${{Stage}}
  ConsumerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: handlers.consume
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig:
              MaximumConcurrency: 1
  FanOutFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: handlers.fan_out
      Environment:
        Variables:
          JOBS_QUEUE_URL: !Ref Jobs
      Events:
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 7 * * ? *)
            Input: '{{"scheduled_time": "<aws.scheduler.scheduled-time>", "n": 3}}'
  HookFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: handlers.hook
      Environment:
        Variables:
          HOOK_SECRET: {secret}
      Events:
        Payments:
          Type: HttpApi
          Properties:
            Method: POST
            Path: /webhooks/payments
"""


class Toy:
    def __init__(self, stack: LocalStack, seen: Path) -> None:
        self.stack = stack
        self.api = Api(stack.url)
        self.seen_dir = seen
        self.sqs = stack.endpoints.client("sqs")
        self.events = stack.endpoints.client("events")
        self.jobs = stack.values.refs["Jobs"]
        self.dead_letters = stack.values.refs["JobsDeadLetters"]
        self.jobs_arn = stack.values.attributes[("Jobs", "Arn")]

    def send(self, *bodies: dict[str, Any], **attributes: Any) -> None:
        self.sqs.send_message_batch(
            QueueUrl=self.jobs,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps(body), **attributes}
                for n, body in enumerate(bodies)
            ],
        )

    def invocations(self, tag: str) -> list[dict[str, Any]]:
        """The events the consumer received with a record tagged `tag`, in order."""
        found = []
        for path in sorted(self.seen_dir.glob("*.json")):
            event = json.loads(path.read_text())
            if any(json.loads(r["body"]).get("tag") == tag for r in event["Records"]):
                found.append(event)
        return found

    def counts(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
        return sum(
            int(attributes["Attributes"][name])
            for name in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )

    def dead_lettered(self) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.dead_letters, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return [json.loads(m["Body"]) for m in answer.get("Messages") or []]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Toy]:
    root = tmp_path_factory.mktemp("async")
    (root / "code").mkdir()
    (root / "code" / "handlers.py").write_text(HANDLERS)
    seen = root / "seen"
    seen.mkdir()
    text = TEMPLATE.format(seen=seen, secret=config.PAYMENTS_WEBHOOK_SECRET)
    (root / "template.yaml").write_text(text)
    stack = LocalStack(
        gateway_port=None,
        dynamodb_port=None,
        moto_port=None,
        oidc_port=None,
        template_path=root / "template.yaml",
        queue_visibility_timeout=3,
    )
    with stack:
        toy = Toy(stack, seen)
        yield toy
        toy.api.session.close()


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def new_tag() -> str:
    return uuid.uuid4().hex


# ----------------------------------------------------------------------------- SQS event sources


def test_the_queue_visibility_timeout_can_be_shortened_for_tests(toy: Toy) -> None:
    attributes = toy.sqs.get_queue_attributes(
        QueueUrl=toy.jobs, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "3"  # the template says 180
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 2


def test_the_function_receives_lambdas_sqs_event_and_succeeded_records_are_deleted(
    toy: Toy,
) -> None:
    tag = new_tag()
    bodies = [{"kind": "ok", "tag": tag, "number": n} for n in range(3)]
    toy.send(
        *bodies,
        MessageAttributes={
            "origin": {"DataType": "String", "StringValue": "e2e"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )
    assert toy.stack.wait_for_queues_idle(20)
    [event] = toy.invocations(tag)  # one batch: sent at once, within the batching window
    assert list(event) == ["Records"]
    records = event["Records"]
    assert sorted(json.loads(r["body"])["number"] for r in records) == [0, 1, 2]
    for record in records:
        assert set(record) == {
            "messageId",
            "receiptHandle",
            "body",
            "attributes",
            "messageAttributes",
            "md5OfMessageAttributes",
            "md5OfBody",
            "eventSource",
            "eventSourceARN",
            "awsRegion",
        }
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == toy.jobs_arn
        assert record["awsRegion"] == config.REGION
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        attributes = record["attributes"]
        assert set(attributes) == {
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
        }
        assert attributes["ApproximateReceiveCount"] == "1"
        assert abs(int(attributes["SentTimestamp"]) / 1000 - time.time()) < 60
        assert record["messageAttributes"] == {
            "origin": {
                "stringValue": "e2e",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "blob": {
                "binaryValue": "AP8=",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        }
    assert toy.counts(toy.jobs) == 0  # all three deleted


def test_a_reported_failure_is_redelivered_then_dead_lettered(toy: Toy) -> None:
    tag = new_tag()
    toy.send({"kind": "ok", "tag": tag}, {"kind": "fail", "tag": tag})
    dead = eventually(lambda: [m for m in toy.dead_lettered() if m["tag"] == tag])
    assert dead == [{"kind": "fail", "tag": tag}]
    deliveries = [
        (json.loads(record["body"])["kind"], record["attributes"]["ApproximateReceiveCount"])
        for event in toy.invocations(tag)
        for record in event["Records"]
    ]
    # The success was deleted at once; the failure came back once after the visibility
    # timeout, then went to the dead-letter queue (maxReceiveCount 2).
    assert sorted(deliveries) == [("fail", "1"), ("fail", "2"), ("ok", "1")]
    assert toy.stack.wait_for_queues_idle(20)
    assert toy.counts(toy.jobs) == 0


def test_a_handler_error_fails_the_whole_batch(toy: Toy) -> None:
    tag = new_tag()
    toy.send({"kind": "ok", "tag": tag}, {"kind": "raise", "tag": tag})
    eventually(lambda: len(toy.invocations(tag)) >= 2)
    assert toy.stack.wait_for_queues_idle(20)
    first, second = toy.invocations(tag)
    counts = [
        sorted(r["attributes"]["ApproximateReceiveCount"] for r in event["Records"])
        for event in (first, second)
    ]
    assert counts == [["1", "1"], ["2", "2"]]  # nothing deleted after the error: both again
    assert toy.counts(toy.jobs) == 0
    assert not [m for m in toy.dead_lettered() if m["tag"] == tag]


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{"id": "a"}]}, {"a", "b"}),
        ("not an object", {"a", "b"}),
    ],
)
def test_batch_item_failures_are_read_as_lambda_reads_them(result: Any, failed: set[str]) -> None:
    assert failed_records(result, ["a", "b"]) == failed


# ----------------------------------------------------------------------------- events tap


def test_events_lists_every_event_put_on_the_bus_in_order(toy: Toy) -> None:
    tag = new_tag()
    bus = toy.stack.values.refs["Bus"]
    for number in range(12):  # more than one receive's worth
        toy.events.put_events(
            Entries=[
                {
                    "EventBusName": bus,
                    "Source": "payment-action-center",
                    "DetailType": f"Step{number}",
                    "Detail": json.dumps({"tag": tag, "number": number}),
                }
            ]
        )
    toy.events.put_events(  # the default bus is not the template's: not listed
        Entries=[{"Source": "x", "DetailType": "Elsewhere", "Detail": json.dumps({"tag": tag})}]
    )
    answer = toy.api.get("/_local/events")  # at once: what was put is there
    assert answer.status_code == 200
    mine = [e for e in answer.json()["events"] if e["detail"].get("tag") == tag]
    assert mine == [
        {"detail_type": f"Step{n}", "detail": {"tag": tag, "number": n}} for n in range(12)
    ]


# ----------------------------------------------------------------------------- schedules


def test_schedule_names_are_the_functions_in_kebab_case() -> None:
    assert kebab("RetryWatchdogFunction") == "retry-watchdog"
    assert kebab("DailyDigestFunction") == "daily-digest"
    assert kebab("CardExpiryScanFunction") == "card-expiry-scan"
    found = schedules(load())
    for name, schedule in found.items():
        assert name == kebab(schedule.function_id)


def test_a_schedule_runs_with_now_in_its_input_and_answers_after_the_fan_out(toy: Toy) -> None:
    answer = toy.api.post("/_local/schedules/fan-out", json={"now": "2026-11-25T02:00:00-05:00"})
    assert answer.status_code == 200, answer.text
    now = "2026-11-25T07:00:00Z"
    assert answer.json() == {
        "schedule": "fan-out",
        "now": now,
        "result": {"got": {"scheduled_time": now, "n": 3}, "sent": 3},
    }
    # Answered only once the three messages it sent were handled and deleted.
    handled = [json.loads(r["body"]) for e in toy.invocations(now) for r in e["Records"]]
    assert sorted(body["number"] for body in handled) == [0, 1, 2]
    assert toy.counts(toy.jobs) == 0


def test_a_schedule_without_now_runs_at_the_real_time(toy: Toy) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    answer = toy.api.post("/_local/schedules/fan-out")
    assert answer.status_code == 200, answer.text
    ran_at = datetime.fromisoformat(answer.json()["now"])
    assert before <= ran_at <= datetime.now(UTC)
    assert answer.json()["result"]["got"]["scheduled_time"] == answer.json()["now"]


@pytest.mark.parametrize(
    "body",
    [
        {"now": "yesterday"},
        {"now": "2026-11-25T07:00:00"},  # no offset
        {"now": "2026-11-25"},
        {"now": 1764054000},
        {"when": "2026-11-25T07:00:00Z"},
        [],
    ],
)
def test_a_schedule_refuses_a_bad_now_with_a_json_400(toy: Toy, body: Any) -> None:
    answer = toy.api.post("/_local/schedules/fan-out", json=body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_request"


def test_an_unknown_schedule_is_404(toy: Toy, api: Api) -> None:
    for client in (toy.api, api):
        answer = client.post("/_local/schedules/nightly-nothing", json={})
        assert answer.status_code == 404
        assert answer.json()["code"] == "not_found"
    assert toy.api.get("/_local/schedules/fan-out").status_code == 404  # POST only


# ----------------------------------------------------------------------------- sandbox


class StubLedger:
    """The sandbox ledger's API of local/sandbox.py (calls, settle, reopen), for the toy stack."""

    def __init__(self) -> None:
        self.reopened: list[tuple[str, str]] = []

    CALL = {
        "operation": "charge",
        "token": "tok_echeck_pending",
        "amount": 8900,
        "currency": "CAD",
        "idempotency_key": "txn_pending:retry:1",
        "outcome": "pending",
    }

    def calls(self) -> list[dict[str, Any]]:
        return [self.CALL]

    def settle(self, transaction_id: str, outcome: str, occurred_at: str) -> dict[str, Any] | None:
        if transaction_id == "txn_none":
            return None
        return {
            "type": f"payment.{outcome}",
            "occurred_at": occurred_at,
            "data": {"retry_of": transaction_id},
        }

    def reopen(self, transaction_id: str, outcome: str) -> None:
        self.reopened.append((transaction_id, outcome))


@pytest.fixture
def stub_ledger(toy: Toy, monkeypatch: pytest.MonkeyPatch) -> StubLedger:
    stub = StubLedger()
    monkeypatch.setattr(toy.stack.sandbox, "ledger", stub)
    return stub


def test_sandbox_charges_are_the_processors_calls(toy: Toy, stub_ledger: StubLedger) -> None:
    answer = toy.api.get("/_local/sandbox/charges")
    assert answer.status_code == 200
    assert answer.json() == {"charges": [StubLedger.CALL]}


def test_settle_delivers_the_signed_webhook_and_answers_with_the_handlers_answer(
    toy: Toy, stub_ledger: StubLedger
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    answer = toy.api.settle("txn_pending", "failed")
    assert answer.status_code == 200, answer.text
    reply = answer.json()
    assert reply["status"] == "delivered"
    webhook = reply["webhook"]  # the hook verified the signature with the payments secret
    assert webhook["status"] == "accepted"
    assert (webhook["type"], webhook["retry_of"]) == ("payment.failed", "txn_pending")
    assert webhook["webhook_id"].startswith("msg_")
    assert before <= datetime.fromisoformat(webhook["occurred_at"]) <= datetime.now(UTC)


def test_settle_is_404_when_the_sandbox_has_nothing_pending(
    toy: Toy, stub_ledger: StubLedger
) -> None:
    answer = toy.api.settle("txn_none", "succeeded")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


def test_settle_says_so_when_the_webhook_is_refused(toy: Toy, stub_ledger: StubLedger) -> None:
    answer = toy.api.settle("txn_refused", "succeeded")
    assert answer.status_code == 502
    assert answer.json()["code"] == "delivery_refused"
    assert stub_ledger.reopened == [("txn_refused", "succeeded")]  # pending again


# ----------------------------------------------------------------------------- the real stack


def test_every_scheduled_function_of_the_template_has_its_endpoint(stack: LocalStack) -> None:
    assert stack.schedules == schedules(load())
    for name in stack.schedules:
        assert name.islower() and not name.endswith("-function")


def test_settle_is_404_when_no_retry_of_the_entry_is_pending(api: Api) -> None:
    answer = api.settle(f"txn_{uuid.uuid4().hex}", "succeeded")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"transaction_id": "txn_1"}).encode(),
        json.dumps({"transaction_id": "txn_1", "outcome": "pending"}).encode(),
        json.dumps({"transaction_id": "", "outcome": "failed"}).encode(),
    ],
)
def test_settle_refuses_a_bad_body_with_a_json_400(api: Api, body: bytes) -> None:
    answer = api.post("/_local/sandbox/settle", data=body)
    assert answer.status_code == 400
    assert set(answer.json()) == {"code", "message"}


def test_sandbox_charges_and_events_answer_lists(api: Api) -> None:
    charges = api.get("/_local/sandbox/charges")
    assert charges.status_code == 200
    assert isinstance(charges.json()["charges"], list)
    events = api.get("/_local/events")
    assert events.status_code == 200
    assert isinstance(events.json()["events"], list)
