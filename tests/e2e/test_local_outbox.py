"""GET /_local/outbox (docs/contract.md §5): what SES, the moto server, accepted, oldest first, as
{"to": [bare addresses], "subject", "html", "text"}; the senders the template implies verified at
start; an HttpApi's URL standing for the gateway. A throwaway template and a handler that sends
through SES v2 with boto3, as the digest does; then the real template's digest wiring."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.stack import LocalStack
from tests.e2e.conftest import Api

HANDLERS = """
import os
from email.message import EmailMessage

import boto3
from botocore.exceptions import ClientError

SES = boto3.client("sesv2")


def send(event, context):
    sender = event.get("from") or os.environ["SENDER"]
    request = {"FromEmailAddress": sender}
    if event.get("simple"):
        body = {key.capitalize(): {"Data": event[key]} for key in ("text", "html") if key in event}
        request["Destination"] = {"ToAddresses": event["to"]}
        request["Content"] = {"Simple": {"Subject": {"Data": event["subject"]}, "Body": body}}
    else:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(event["to"])
        message["Subject"] = event["subject"]
        message.set_content(event["text"])
        message.add_alternative(event["html"], subtype="html")
        request["Content"] = {"Raw": {"Data": message.as_bytes()}}
        if event.get("envelope"):
            request["Destination"] = {"ToAddresses": event["to"]}
    try:
        return {"message_id": SES.send_email(**request)["MessageId"]}
    except ClientError as error:
        return {"error": error.response["Error"]["Code"]}


def settings(event, context):
    return {name: os.environ[name] for name in ("SENDER", "API_URL", "IMPLICIT_API_URL")}
"""

TEMPLATE = """
Globals:
  Function:
    Runtime: python3.13
Parameters:
  SenderEmail:
    Type: String
    Default: digest@toy.example
Resources:
  ToyApi:
    Type: AWS::Serverless::HttpApi
  MailerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: handlers.send
      Timeout: 20
      Environment:
        Variables:
          SENDER: !Ref SenderEmail
          API_URL: !Sub https://${ToyApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}
          IMPLICIT_API_URL: !Sub >-
            https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/hello
      Policies:
        - Statement:
            - Effect: Allow
              Action: [ses:SendEmail, ses:SendRawEmail]
              Resource: !Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*
  SettingsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: handlers.settings
      Environment:
        Variables:
          SENDER: bystander@toy.example  # an address, but no SES grant: not a sender
          API_URL: unused
          IMPLICIT_API_URL: unused
"""

SENDER = "digest@toy.example"
TEXT = "Bonjour Zoé,\n2 paiements ont échoué — 12,50 $.\n"
HTML = '<p>Bonjour Zoé,</p>\n<p><a href="https://console.example/?a=1&amp;b=2">Gérer</a></p>\n'


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("outbox")
    (root / "code").mkdir()
    (root / "code" / "handlers.py").write_text(HANDLERS)
    (root / "template.yaml").write_text(TEMPLATE)
    stack = LocalStack(
        gateway_port=None,
        dynamodb_port=None,
        moto_port=None,
        oidc_port=None,
        template_path=root / "template.yaml",
    )
    with stack:
        yield stack


@pytest.fixture(scope="module")
def toy_api(toy: LocalStack) -> Iterator[Api]:
    client = Api(toy.url)
    yield client
    client.session.close()


def send(stack: LocalStack, **email: Any) -> dict[str, Any]:
    answer = stack.invoke("MailerFunction", email)
    assert isinstance(answer, dict)
    return answer


def mine(api: Api, tag: str) -> list[dict[str, Any]]:
    return [m for m in api.outbox() if tag in (m["subject"] or "")]


def test_a_raw_email_is_listed_with_both_parts_decoded_and_bare_addresses(
    toy: LocalStack, toy_api: Api
) -> None:
    tag = uuid.uuid4().hex
    subject = f"Notification importante — Échec de transaction {tag}"
    to = ["Zoé Tremblay <zoe@example.com>", "bob@example.com"]
    sent = send(toy, to=to, subject=subject, text=TEXT, html=HTML)
    assert "message_id" in sent, sent
    [message] = mine(toy_api, tag)
    assert message == {
        "to": ["zoe@example.com", "bob@example.com"],
        "subject": subject,
        "html": HTML,
        "text": TEXT,
    }


def test_recipients_given_twice_are_listed_once(toy: LocalStack, toy_api: Api) -> None:
    # Destination and the To header both name them (moto keeps both lists).
    tag = uuid.uuid4().hex
    to = ["Zoé <zoe@example.com>"]
    assert "message_id" in send(toy, to=to, subject=tag, text=TEXT, html=HTML, envelope=True)
    [message] = mine(toy_api, tag)
    assert message["to"] == ["zoe@example.com"]


def test_messages_are_listed_oldest_first(toy: LocalStack, toy_api: Api) -> None:
    tag = uuid.uuid4().hex
    for number in range(5):
        to = [f"admin{number}@example.com"]
        assert "message_id" in send(toy, to=to, subject=f"{tag} {number}", text=TEXT, html=HTML)
    listed = mine(toy_api, tag)
    assert [m["subject"] for m in listed] == [f"{tag} {n}" for n in range(5)]
    assert [m["to"] for m in listed] == [[f"admin{n}@example.com"] for n in range(5)]


def test_a_simple_email_lists_the_one_body_moto_keeps(toy: LocalStack, toy_api: Api) -> None:
    html_tag, text_tag = uuid.uuid4().hex, uuid.uuid4().hex
    to = ["Zoé <zoe@example.com>"]
    send(toy, simple=True, to=to, subject=html_tag, text=TEXT, html=HTML)  # moto keeps the Html
    send(toy, simple=True, to=to, subject=text_tag, text=TEXT)
    assert mine(toy_api, html_tag) == [
        {"to": ["zoe@example.com"], "subject": html_tag, "html": HTML, "text": None}
    ]
    assert mine(toy_api, text_tag) == [
        {"to": ["zoe@example.com"], "subject": text_tag, "html": None, "text": TEXT}
    ]


def test_only_the_senders_the_template_implies_are_verified(toy: LocalStack) -> None:
    identities = toy.endpoints.client("ses").list_identities()["Identities"]
    assert identities == [SENDER]  # not the address of the function that may not send
    for sender in ("bystander@toy.example", "someone@elsewhere.example"):
        email = {"to": ["a@example.com"], "subject": "x", "text": "x", "html": "x", "from": sender}
        refused = send(toy, **email)
        assert refused == {"error": "MessageRejected"}, sender


def test_an_http_apis_url_is_the_gateways(toy: LocalStack) -> None:
    settings = toy.invoke("SettingsFunction", {})
    assert settings["SENDER"] == "bystander@toy.example"
    assert toy.workers is not None
    mailer = toy.workers.pools["MailerFunction"].function.environment
    assert mailer["API_URL"] == toy.url
    assert mailer["IMPLICIT_API_URL"] == f"{toy.url}/hello"


# ----------------------------------------------------------------------------- the real template


def test_the_outbox_answers_on_the_real_stack(api: Api) -> None:
    for message in api.outbox():
        assert set(message) == {"to", "subject", "html", "text"}
        assert all("<" not in address and "@" in address for address in message["to"])


def test_the_daily_digest_runs_hourly_and_its_fan_out_is_awaited(stack: LocalStack) -> None:
    schedule = stack.schedules["daily-digest"]
    assert schedule.function_id == "DailyDigestFunction"
    assert schedule.expression == "cron(0 * * * ? *)"
    assert stack.event_sources is not None
    consumers = {p.mapping.function_id: p.mapping for p in stack.event_sources.pollers}
    # POST /_local/schedules/daily-digest waits for every polled queue, this one included.
    digests = consumers["DigestSenderFunction"]
    assert digests.queue_url == stack.values.refs["DigestQueue"]
    assert digests.batch_size == 5 and digests.report_batch_item_failures


def test_the_digest_sender_may_send_from_its_address_and_links_to_the_gateway(
    stack: LocalStack,
) -> None:
    assert stack.workers is not None
    environment = stack.workers.pools["DigestSenderFunction"].function.environment
    sender = environment["DIGEST_SENDER_EMAIL"]
    assert sender == "no-reply@payment-action-center.invalid"  # the parameter's default
    assert sender in stack.endpoints.client("ses").list_identities()["Identities"]
    assert environment["API_URL"] == stack.url
    assert environment["SES_CONFIGURATION_SET"] == ""
    assert environment["UNSUBSCRIBE_SECRET_ARN"] == stack.values.refs["UnsubscribeSecret"]
    api = stack.workers.pools["ApiFunction"].function.environment
    assert api["UNSUBSCRIBE_SECRET_ARN"] == environment["UNSUBSCRIBE_SECRET_ARN"]
