"""The local stack's side of the sandbox processor (local/sandbox.py): every call it received, read
from the ledger the deployed processor writes, and the settlement of a pending e-check."""

from typing import Any

import boto3
import pytest

from local import sandbox as local_sandbox
from local.sandbox import Sandbox, SandboxLedger
from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.http.payment_webhook import PaymentEvent, parse
from payment_action_center.adapters.processors.sandbox import SandboxProcessor
from payment_action_center.domain import timestamps
from payment_action_center.ports import Operation, ProcessorUnavailable
from tests.shared import factories
from tests.shared.moto_aws import TABLE


@pytest.fixture
def processor(aws: dict[str, str]) -> SandboxProcessor:
    return SandboxProcessor(boto3.client("dynamodb"), TABLE)


@pytest.fixture
def ledger(aws: dict[str, str]) -> SandboxLedger:
    return SandboxLedger(boto3.client("dynamodb"), TABLE)


def call(key: str, outcome: str, token: str = "tok_success", **fields: Any) -> dict[str, Any]:
    return {
        "operation": "charge",
        "token": token,
        "amount": 500,
        "currency": "CAD",
        "idempotency_key": key,
        "outcome": outcome,
    } | fields


def test_the_ledger_read_is_where_the_processor_writes() -> None:
    assert (local_sandbox.LEDGER, local_sandbox.PK, local_sandbox.SK) == (
        keys.SANDBOX_CHARGES,
        keys.PK,
        keys.SK,
    )


def test_every_call_is_listed_oldest_first_with_the_answer_it_got(
    processor: SandboxProcessor, ledger: SandboxLedger
) -> None:
    processor.charge(factories.charge_request("k3"))
    processor.refund(
        factories.charge_request("k1", "tok_card_declined", operation=Operation.REFUND)
    )
    with pytest.raises(ProcessorUnavailable):
        processor.charge(factories.charge_request("k2", "tok_timeout"))
    processor.charge(factories.charge_request("k0", "tok_echeck_pending"))
    processor.charge(factories.charge_request("k3", "tok_card_declined"))  # the same key again
    assert ledger.calls() == [
        call("k3", "succeeded"),
        call("k1", "failed", "tok_card_declined", operation="refund"),
        call("k2", "timeout", "tok_timeout"),
        call("k0", "pending", "tok_echeck_pending"),
        call("k3", "succeeded", "tok_card_declined"),  # answered as the first time
    ]


def test_a_settled_echeck_still_lists_the_pending_answer_its_call_got(
    processor: SandboxProcessor, ledger: SandboxLedger
) -> None:
    processor.charge(factories.charge_request("k1", "tok_echeck_pending"))
    assert ledger.settle("txn_x", "succeeded", "2026-11-25T12:00:00Z") is not None
    assert processor.status(factories.charge_request("k1")).outcome.value == "succeeded"
    assert ledger.calls() == [call("k1", "pending", "tok_echeck_pending")]


def test_settling_a_pending_echeck_gives_a_valid_webhook(
    processor: SandboxProcessor, ledger: SandboxLedger
) -> None:
    processor.charge(factories.charge_request("k1", "tok_echeck_pending"))
    assert ledger.settle("txn_other", "succeeded", "2026-11-25T12:00:00Z") is None
    body = ledger.settle("txn_x", "failed", "2026-11-25T12:00:00Z")
    assert body is not None
    event = parse(PaymentEvent, body)
    assert (event.type, event.data.retry_of, event.data.failure.code) == (
        "payment.failed",
        "txn_x",
        "nsf",
    )
    assert ledger.settle("txn_x", "succeeded", timestamps.now()) is None  # settled already
    assert processor.status(factories.charge_request("k1")).outcome.value == "failed"


def test_only_a_pending_charge_can_be_settled(
    processor: SandboxProcessor, ledger: SandboxLedger
) -> None:
    processor.charge(factories.charge_request("k1"))
    assert ledger.settle("txn_x", "failed", "2026-11-25T12:00:00Z") is None
    assert processor.status(factories.charge_request("k1")).outcome.value == "succeeded"


def test_an_undelivered_settlement_leaves_the_charge_pending(
    processor: SandboxProcessor, ledger: SandboxLedger
) -> None:
    processor.charge(factories.charge_request("k1", "tok_echeck_pending"))
    # No network in unit tests: the webhook cannot reach the gateway.
    with pytest.raises(RuntimeError, match="network"):
        Sandbox(boto3.client("dynamodb"), TABLE, "http://127.0.0.1:9").settle("txn_x", "failed")
    pending = processor.status(factories.charge_request("k1"))
    assert (pending.outcome.value, pending.failure) == ("pending", None)
    assert ledger.settle("txn_x", "succeeded", "2026-11-25T12:00:00Z") is not None
