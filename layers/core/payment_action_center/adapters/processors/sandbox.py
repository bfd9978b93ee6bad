"""The sandbox processor (docs/contract.md §5): the processor everywhere but production.

It decides by payment method token and keeps its ledger in the service's table: one row per
idempotency key, so a repeated request gets the first answer and never charges twice. The row
holds the charge (the first request and its current `status`) and `requests`: every request
received under that key, with the answer it got, as a processor's idempotency records keep them.
Rows expire after LEDGER_DAYS.
"""

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.store import from_attributes, to_attributes
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Failure
from payment_action_center.ports import (
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    ProcessorUnavailable,
)

# Far past the longest time a retry's status is looked up before someone must act (the
# deadlines in template.yaml: 30 minutes for a card, 120 hours for an e-check); a dev stack's
# ledger does not grow for ever.
LEDGER_DAYS = 90
TIMEOUT = "timeout"
_DECLINES = {
    "tok_insufficient_funds": Failure("insufficient_funds", "Insufficient funds."),
    "tok_card_declined": Failure("card_declined", "The card was declined."),
}


_UNDECIDED = {"tok_timeout": TIMEOUT, "tok_echeck_pending": ChargeOutcome.PENDING.value}


def decide(token: str) -> str:
    """The sandbox's rule: the token says what happens; any other token succeeds."""
    if token in _DECLINES:
        return ChargeOutcome.FAILED.value
    return _UNDECIDED.get(token, ChargeOutcome.SUCCEEDED.value)


class SandboxProcessor:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def charge(self, request: ChargeRequest) -> ChargeResult:
        return self._send(request)

    def refund(self, request: ChargeRequest) -> ChargeResult:
        return self._send(request)

    def status(self, request: ChargeRequest) -> ChargeResult | None:
        """The ledger row of the request's key: the key alone finds it (one ledger for all)."""
        response = self._client.get_item(
            TableName=self._table,
            Key=to_attributes({keys.PK: keys.SANDBOX_CHARGES, keys.SK: request.idempotency_key}),
            ConsistentRead=True,
        )
        return _result(from_attributes(response["Item"])) if "Item" in response else None

    def _send(self, request: ChargeRequest) -> ChargeResult:
        # A timeout is recorded too: the request arrived, only its answer is lost, so a later
        # status() says "unknown" rather than "never arrived" (which would send it again).
        now = timestamps.now()
        outcome = decide(request.token)
        ledger = {
            keys.PK: keys.SANDBOX_CHARGES,
            keys.SK: request.idempotency_key,
            "operation": request.operation.value,
            "transaction_id": request.transaction_id,
            "token": request.token,
            "method": request.method.value,
            "amount": request.amount,
            "currency": request.currency,
            "status": outcome,
            "payment_id": "pay_sbx_"
            + hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:20],
            "metadata": request.metadata,
            "created_at": now,
            "requests": [_received(request, now, outcome)],
            keys.TTL: timestamps.epoch_seconds(now) + LEDGER_DAYS * 86400,
        }
        if outcome == ChargeOutcome.FAILED.value:
            failure = _DECLINES[request.token]
            ledger |= {"failure_code": failure.code, "failure_message": failure.message}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_attributes(ledger),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": keys.PK},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # The same idempotency key again: the first request's result, no second charge.
            ledger = from_attributes(error.response["Item"])
            self._add_request(request, _received(request, now, str(ledger["status"])))
        return _result(ledger)

    def _add_request(self, request: ChargeRequest, received: dict[str, Any]) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=to_attributes({keys.PK: keys.SANDBOX_CHARGES, keys.SK: request.idempotency_key}),
            # if_not_exists: a row written before rows listed their requests has no list yet.
            UpdateExpression="SET #list = list_append(if_not_exists(#list, :none), :received)",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#list": "requests", "#pk": keys.PK},
            ExpressionAttributeValues=to_attributes({":none": [], ":received": [received]}),
        )


def _received(request: ChargeRequest, at: str, outcome: str) -> dict[str, Any]:
    """One request as the ledger row lists it: when, what was asked and what it was answered."""
    return {
        "at": at,
        "operation": request.operation.value,
        "token": request.token,
        "amount": request.amount,
        "currency": request.currency,
        "outcome": outcome,
    }


def _result(item: dict[str, Any]) -> ChargeResult:
    status = str(item["status"])
    if status == TIMEOUT:
        raise ProcessorUnavailable("the sandbox processor timed out")
    failure = (
        Failure(item["failure_code"], item.get("failure_message", ""))
        if status == ChargeOutcome.FAILED.value
        else None
    )
    return ChargeResult(ChargeOutcome(status), payment_id=item.get("payment_id"), failure=failure)
