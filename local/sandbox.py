"""The sandbox payment processor seen from the local stack: every call it received
(GET /_local/sandbox/charges) and the settlement of a pending e-check (POST /_local/sandbox/settle).

Nothing here is deployed. The processor,
layers/core/payment_action_center/adapters/processors/sandbox.py,
keeps one ledger row per idempotency key in the table: the charge, its current state (`status`)
and every request received under that key with the answer it got (`requests`). The retry worker
and the watchdog call it from their own worker processes (local/workers.py), so the ledger is
where every call can be seen: this module reads it, and settles a pending e-check by changing its
row and delivering the processor's signed webhook through the gateway.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import requests
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from local import config, demo

# The layout the processor writes (payment_action_center/adapters/dynamodb/keys.py): the ledger's
# partition and the table's key attributes.
LEDGER, PK, SK = "SANDBOX#CHARGES", "pk", "sk"
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
RETURNED = {"code": "nsf", "message": "The e-check was returned (NSF)."}

_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


class SandboxLedger:
    """The processor's ledger in the local table: calls(), settle(...), reopen(...)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def calls(self) -> list[dict[str, Any]]:
        """Every request the processor received, oldest first, with the answer it got."""
        received = [(request, row[SK]) for row in self._rows() for request in row["requests"]]
        received.sort(key=lambda pair: pair[0]["at"])
        return [_call(request, idempotency_key) for request, idempotency_key in received]

    def settle(self, transaction_id: str, outcome: str, occurred_at: str) -> dict[str, Any] | None:
        """Settle that entry's pending e-check and return the webhook the processor sends; None
        if no charge of that entry is pending."""
        if outcome not in (SUCCEEDED, FAILED):
            raise ValueError("outcome must be succeeded or failed")
        pending = self._charge_for(transaction_id, PENDING)
        if pending is None:
            return None
        changes: dict[str, Any] = {":new": outcome, ":pending": PENDING}
        update = "SET #status = :new"
        if outcome == FAILED:
            changes |= {":code": RETURNED["code"], ":message": RETURNED["message"]}
            update += ", failure_code = :code, failure_message = :message"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_attributes({PK: LEDGER, SK: pending[SK]}),
                UpdateExpression=update,
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_attributes(changes),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None  # settled concurrently
            raise
        return _settlement_webhook(pending, outcome, occurred_at)

    def reopen(self, transaction_id: str, outcome: str) -> None:
        """Undo a settle whose webhook could not be delivered: pending again."""
        settled = self._charge_for(transaction_id, outcome)
        if settled is None:
            return
        self._client.update_item(
            TableName=self._table,
            Key=_attributes({PK: LEDGER, SK: settled[SK]}),
            UpdateExpression="SET #status = :pending REMOVE failure_code, failure_message",
            ConditionExpression="#status = :outcome",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=_attributes({":pending": PENDING, ":outcome": outcome}),
        )

    def _charge_for(self, transaction_id: str, status: str) -> dict[str, Any] | None:
        return next(
            (
                row
                for row in self._rows()
                if row["transaction_id"] == transaction_id and row["status"] == status
            ),
            None,
        )

    def _rows(self) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PK},
            "ExpressionAttributeValues": _attributes({":pk": LEDGER}),
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**request)
            for item in response["Items"]:
                yield {name: _deserializer.deserialize(value) for name, value in item.items()}
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class Sandbox:
    """`Sandbox(dynamodb_client, table, gateway_url)`: calls(), settle(...) for the endpoints."""

    def __init__(self, client: Any, table_name: str, gateway_url: str) -> None:
        self.ledger = SandboxLedger(client, table_name)
        self._gateway_url = gateway_url

    def calls(self) -> list[dict[str, Any]]:
        return self.ledger.calls()

    def settle(self, transaction_id: str, outcome: str) -> dict[str, Any] | None:
        """Settle the entry's pending retry and deliver the processor's webhook to the gateway.

        The webhook handler's answer; None if no retry of that entry is pending at the sandbox.
        demo.DeliveryRefused if the handler did not answer 200.
        """
        body = self.ledger.settle(transaction_id, outcome, demo.rfc3339(datetime.now(UTC)))
        if body is None:
            return None
        try:
            with requests.Session() as session:
                return demo.deliver(
                    session,
                    f"{self._gateway_url}/webhooks/payments",
                    config.PAYMENTS_WEBHOOK_SECRET,
                    f"msg_sandbox_{uuid.uuid4().hex}",
                    body,
                )
        except Exception:
            # Not delivered: the charge is pending again, so a later settle can deliver it.
            self.ledger.reopen(transaction_id, outcome)
            raise


def _settlement_webhook(charge: dict[str, Any], outcome: str, occurred_at: str) -> dict[str, Any]:
    """The processor's `payment.*` / `refund.*` event for a settled charge (docs/contract.md
    §4.1), from what its ledger row keeps of the request."""
    metadata = charge.get("metadata", {})
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
    if outcome == FAILED:
        data["failure"] = dict(RETURNED)
    prefix = "refund" if charge["operation"] == "refund" else "payment"
    return {"type": f"{prefix}.{outcome}", "occurred_at": occurred_at, "data": data}


def _call(request: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    """One call as GET /_local/sandbox/charges lists it (docs/contract.md §5)."""
    return {
        "operation": request["operation"],
        "token": request["token"],
        "amount": int(request["amount"]),
        "currency": request["currency"],
        "idempotency_key": idempotency_key,
        "outcome": request["outcome"],
    }


def _attributes(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items()}
