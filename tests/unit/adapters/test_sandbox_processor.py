"""The sandbox processor as deployed
(layers/core/payment_action_center/adapters/processors/sandbox.py): the token rules, and one
ledger row per idempotency key that expires, with nothing else written."""

from dataclasses import replace
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.store import from_attributes
from payment_action_center.adapters.processors.sandbox import LEDGER_DAYS, SandboxProcessor
from payment_action_center.domain import timestamps
from payment_action_center.ports import Operation, ProcessorUnavailable
from tests.shared import factories
from tests.shared.moto_aws import TABLE


@pytest.fixture
def sandbox(aws: dict[str, str]) -> SandboxProcessor:
    return SandboxProcessor(boto3.client("dynamodb"), TABLE)


def table_items() -> list[dict[str, Any]]:
    return [from_attributes(i) for i in boto3.client("dynamodb").scan(TableName=TABLE)["Items"]]


@pytest.mark.parametrize(
    ("token", "outcome", "code"),
    [
        ("tok_success", "succeeded", None),
        ("tok_insufficient_funds", "failed", "insufficient_funds"),
        ("tok_card_declined", "failed", "card_declined"),
        ("tok_echeck_pending", "pending", None),
        ("tok_unknown_to_the_sandbox", "succeeded", None),
    ],
)
@pytest.mark.parametrize("operation", list(Operation))
def test_the_token_decides_and_status_gives_the_same_answer(
    sandbox: SandboxProcessor, operation: Operation, token: str, outcome: str, code: str | None
) -> None:
    request = factories.charge_request("k1", token, operation=operation)
    sent = sandbox.refund(request) if operation is Operation.REFUND else sandbox.charge(request)
    assert (sent.outcome.value, sent.failure.code if sent.failure else None) == (outcome, code)
    assert sandbox.status(factories.charge_request("k1")) == sent


def test_a_timeout_stays_unknown_when_asked_again(sandbox: SandboxProcessor) -> None:
    with pytest.raises(ProcessorUnavailable):
        sandbox.charge(factories.charge_request("k1", "tok_timeout"))
    # It arrived: "unknown", never "not received" (None), which would send it again.
    with pytest.raises(ProcessorUnavailable):
        sandbox.status(factories.charge_request("k1"))
    assert sandbox.status(factories.charge_request("never_sent")) is None


def test_status_goes_by_the_key_alone(sandbox: SandboxProcessor) -> None:
    """The request asked about may carry another token or payment than the one sent (a
    scheduled payment's method changed since): the ledger row of its key answers."""
    sent = sandbox.charge(factories.charge_request("k1", "tok_card_declined"))
    asked = replace(
        factories.charge_request("k1", "tok_success", transaction_id="txn_y"),
        metadata={"payment_id": "pay_other"},
    )
    assert sandbox.status(asked) == sent and sent.outcome.value == "failed"
    assert sandbox.status(replace(asked, idempotency_key="k2")) is None


def test_a_charge_writes_one_ledger_row_that_expires(sandbox: SandboxProcessor) -> None:
    before = timestamps.epoch_seconds(timestamps.now())
    sandbox.charge(factories.charge_request("k1"))
    [row] = table_items()
    assert (row[keys.PK], row[keys.SK]) == (keys.SANDBOX_CHARGES, "k1")
    ttl = LEDGER_DAYS * 86400
    assert before + ttl <= row[keys.TTL] <= timestamps.epoch_seconds(timestamps.now()) + ttl


def test_the_same_key_again_gets_the_first_answer_and_no_second_row(
    sandbox: SandboxProcessor,
) -> None:
    first = sandbox.charge(factories.charge_request("k1"))
    assert sandbox.charge(factories.charge_request("k1", "tok_card_declined")) == first
    [row] = table_items()
    assert [(r["token"], r["outcome"]) for r in row["requests"]] == [
        ("tok_success", "succeeded"),
        ("tok_card_declined", "succeeded"),
    ]


def test_the_deployed_sandbox_is_the_processor_port_and_nothing_more() -> None:
    public = {name for name in vars(SandboxProcessor) if not name.startswith("_")}
    assert public == {"charge", "refund", "status"}
