"""The sandbox processor (docs/contract.md §5): the processor everywhere but production.

It decides by payment method token, keeps its ledger in the service's table (one item per
idempotency key, so a repeated request never charges twice) and logs every call it receives.
"""

import hashlib
import uuid
from typing import Any

from botocore.exceptions import ClientError

from payment_action_center import timestamps
from payment_action_center.dynamodb import keys
from payment_action_center.dynamodb.store import from_attributes, to_attributes
from payment_action_center.model import Failure
from payment_action_center.processors import (
    ChargeRequest,
    ChargeResult,
    Operation,
    Outcome,
    ProcessorUnavailable,
)

TIMEOUT = "timeout"
_DECLINES = {
    "tok_insufficient_funds": Failure("insufficient_funds", "Insufficient funds."),
    "tok_card_declined": Failure("card_declined", "The card was declined."),
}


_UNDECIDED = {"tok_timeout": TIMEOUT, "tok_echeck_pending": Outcome.PENDING.value}


def decide(token: str) -> str:
    """The sandbox's rule: the token says what happens; any other token succeeds."""
    if token in _DECLINES:
        return Outcome.FAILED.value
    return _UNDECIDED.get(token, Outcome.SUCCEEDED.value)


class SandboxProcessor:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def charge(self, request: ChargeRequest) -> ChargeResult:
        return self._send(request)

    def refund(self, request: ChargeRequest) -> ChargeResult:
        return self._send(request)

    def status(self, idempotency_key: str) -> ChargeResult | None:
        item = self._ledger(idempotency_key)
        return None if item is None else _result(item)

    def _send(self, request: ChargeRequest) -> ChargeResult:
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
        }
        if outcome == Outcome.FAILED.value:
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
            known = self._ledger(request.idempotency_key)
            assert known is not None
            ledger = known
        self._log(request, str(ledger["status"]), now)
        return _result(ledger)

    def _log(self, request: ChargeRequest, outcome: str, at: str) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_attributes(
                {
                    keys.PK: keys.SANDBOX_CALLS,
                    keys.SK: f"{at}#{uuid.uuid4().hex}",
                    "operation": request.operation.value,
                    "token": request.token,
                    "amount": request.amount,
                    "currency": request.currency,
                    "idempotency_key": request.idempotency_key,
                    "transaction_id": request.transaction_id,
                    "outcome": outcome,
                }
            ),
        )

    def _ledger(self, idempotency_key: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_attributes({keys.PK: keys.SANDBOX_CHARGES, keys.SK: idempotency_key}),
            ConsistentRead=True,
        )
        return from_attributes(response["Item"]) if "Item" in response else None

    # --- what the local stack uses (docs/contract.md §5) ------------------------------------------

    def calls(self) -> list[dict[str, Any]]:
        """Every call received, oldest first, as GET /_local/sandbox/charges lists them."""
        calls: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": keys.PK},
            "ExpressionAttributeValues": to_attributes({":pk": keys.SANDBOX_CALLS}),
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**request)
            for raw in response["Items"]:
                item = from_attributes(raw)
                calls.append(
                    {
                        "operation": item["operation"],
                        "token": item["token"],
                        "amount": int(item["amount"]),
                        "currency": item["currency"],
                        "idempotency_key": item["idempotency_key"],
                        "outcome": item["outcome"],
                    }
                )
            if "LastEvaluatedKey" not in response:
                return calls
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def settle(self, transaction_id: str, outcome: str, occurred_at: str) -> dict[str, Any] | None:
        """Settle that entry's pending e-check and return the webhook the processor sends."""
        if outcome not in (Outcome.SUCCEEDED.value, Outcome.FAILED.value):
            raise ValueError("outcome must be succeeded or failed")
        pending = self._pending_for(transaction_id)
        if pending is None:
            return None
        changes: dict[str, Any] = {":new": outcome, ":pending": Outcome.PENDING.value}
        update = "SET #status = :new"
        if outcome == Outcome.FAILED.value:
            changes |= {":code": "nsf", ":message": "The e-check was returned (NSF)."}
            update += ", failure_code = :code, failure_message = :message"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_attributes({keys.PK: keys.SANDBOX_CHARGES, keys.SK: pending[keys.SK]}),
                UpdateExpression=update,
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_attributes(changes),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None  # settled concurrently
            raise
        return _settlement_webhook(pending, outcome, occurred_at, changes)

    def reopen(self, transaction_id: str, outcome: str) -> None:
        """Undo a settle whose webhook could not be delivered: pending again."""
        settled = self._charge_for(transaction_id, outcome)
        if settled is None:
            return
        self._client.update_item(
            TableName=self._table,
            Key=to_attributes({keys.PK: keys.SANDBOX_CHARGES, keys.SK: settled[keys.SK]}),
            UpdateExpression="SET #status = :pending REMOVE failure_code, failure_message",
            ConditionExpression="#status = :outcome",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_attributes(
                {":pending": Outcome.PENDING.value, ":outcome": outcome}
            ),
        )

    def _pending_for(self, transaction_id: str) -> dict[str, Any] | None:
        return self._charge_for(transaction_id, Outcome.PENDING.value)

    def _charge_for(self, transaction_id: str, status: str) -> dict[str, Any] | None:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "FilterExpression": "#tx = :tx AND #status = :status",
            "ExpressionAttributeNames": {
                "#pk": keys.PK,
                "#tx": "transaction_id",
                "#status": "status",
            },
            "ExpressionAttributeValues": to_attributes(
                {
                    ":pk": keys.SANDBOX_CHARGES,
                    ":tx": transaction_id,
                    ":status": status,
                }
            ),
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**request)
            if response["Items"]:
                return from_attributes(response["Items"][0])
            if "LastEvaluatedKey" not in response:
                return None
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _result(item: dict[str, Any]) -> ChargeResult:
    status = str(item["status"])
    if status == TIMEOUT:
        raise ProcessorUnavailable("the sandbox processor timed out")
    failure = (
        Failure(item["failure_code"], item.get("failure_message", ""))
        if status == Outcome.FAILED.value
        else None
    )
    return ChargeResult(Outcome(status), payment_id=item.get("payment_id"), failure=failure)


def _settlement_webhook(
    charge: dict[str, Any], outcome: str, occurred_at: str, changes: dict[str, Any]
) -> dict[str, Any]:
    metadata = charge.get("metadata", {})
    operation = Operation(charge["operation"])
    data: dict[str, Any] = {
        "organization_id": metadata["organization_id"],
        "payment_id": charge["payment_id"],
        "kind": metadata["kind"],
        "method": charge["method"],
        "amount": int(charge["amount"]),
        "currency": charge["currency"],
        "account_holder": metadata["account_holder"],
        "payment_method": {"token": charge["token"]},
        "invoice_items": [
            {**item, "amount": int(item["amount"])} for item in metadata["invoice_items"]
        ],
        "retry_of": charge["transaction_id"],
    }
    if metadata.get("scheduled_payment_id"):
        data["scheduled_payment_id"] = metadata["scheduled_payment_id"]
    if outcome == Outcome.FAILED.value:
        data["failure"] = {"code": changes[":code"], "message": changes[":message"]}
    prefix = "refund" if operation is Operation.REFUND else "payment"
    return {
        "type": f"{prefix}.{outcome}",
        "occurred_at": timestamps.display(occurred_at),
        "data": data,
    }
