"""The payment processor port: charge, refund, status. Small on purpose: each processor adapter
implements these three."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from payment_action_center.model import Failure, Method


class Operation(StrEnum):
    CHARGE = "charge"
    REFUND = "refund"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # An e-check is not decided at once: the processor's webhook settles it later.
    PENDING = "pending"


@dataclass(frozen=True)
class ChargeRequest:
    operation: Operation
    transaction_id: str
    token: str
    method: Method
    amount: int
    currency: str
    idempotency_key: str
    # Echoed back by the processor in its settlement webhook (docs/contract.md §4.1 payment events).
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargeResult:
    outcome: Outcome
    payment_id: str | None = None
    failure: Failure | None = None

    def answer(self) -> dict[str, Any]:
        """The processor's answer, as the audit trail keeps it."""
        answer: dict[str, Any] = {"outcome": self.outcome.value, "payment_id": self.payment_id}
        if self.failure is not None:
            answer["failure"] = {"code": self.failure.code, "message": self.failure.message}
        return answer


class ProcessorUnavailable(Exception):
    """A timeout or a 5xx: the outcome is unknown. Ask again later under the same key; never
    take it for a failure."""


class PaymentProcessor(Protocol):
    def charge(self, request: ChargeRequest) -> ChargeResult: ...

    def refund(self, request: ChargeRequest) -> ChargeResult: ...

    def status(self, idempotency_key: str) -> ChargeResult | None:
        """What became of the request sent under this key; None if it never arrived."""
        ...
