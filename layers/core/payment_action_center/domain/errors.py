"""Domain errors, each with a stable code. The HTTP edge maps each to one status
(payment_action_center/adapters/http/errors.py) and adds its own; the domain never speaks HTTP."""

from collections.abc import Sequence
from dataclasses import dataclass


class DomainError(Exception):
    """A request the domain refuses, with a stable machine-readable code."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthorized(DomainError):
    code = "unauthorized"


class Conflict(DomainError):
    """The entry is not in a state that allows the action (or a concurrent change won)."""

    code = "conflict"


class RetryNotAllowed(Conflict):
    """The networks' or the banks' rules forbid charging the entry again now
    (domain/retry_rules.py); `allowed_at`: from when they allow it, when waiting is the answer."""

    code = "retry_not_allowed"

    def __init__(self, message: str, allowed_at: str | None = None) -> None:
        super().__init__(message)
        self.allowed_at = allowed_at


class InvalidCursor(DomainError):
    code = "invalid_cursor"


class InvalidQuery(DomainError):
    """A query parameter that passed its type check but is still wrong (e.g. 2026-02-30)."""

    code = "validation_error"

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name = field_name


@dataclass(frozen=True)
class Problem:
    """One reason a payload was refused: where, and why."""

    loc: str
    msg: str


class InvalidPayload(DomainError):
    code = "invalid_payload"

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class DeliveryInFlight(DomainError):
    """Another delivery of the same webhook-id (or of the same change) is being written."""

    code = "delivery_in_flight"
