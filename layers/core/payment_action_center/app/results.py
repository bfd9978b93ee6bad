"""What a handled webhook comes to, for every sender (processor and billing platform): accepted,
or ignored and why. Neither is worth a retry."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    reason: str | None = None
    entry_id: str | None = None
    known_types: tuple[str, ...] = ()

    def answer(self) -> dict[str, Any]:
        """What the sender is told: accepted, or ignored and why. Neither is worth a retry."""
        if self.outcome is Outcome.ACCEPTED:
            return {"status": self.outcome.value}
        told: dict[str, Any] = {"status": self.outcome.value, "reason": self.reason}
        if self.known_types:
            told["known_types"] = list(self.known_types)
        return told


def unknown_type(event_type: str, known: Iterable[str]) -> Result:
    """Ignored, so that the sender does not retry it, but naming the types the endpoint takes:
    a misspelled `type` (payment.faild) shows in the answer instead of passing unnoticed."""
    return Result(
        Outcome.IGNORED, f"unknown event type {event_type!r}", known_types=tuple(sorted(known))
    )
