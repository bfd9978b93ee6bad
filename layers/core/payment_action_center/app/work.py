"""The units of work the functions hand each other through SQS (docs/contract.md §2, §4.3): one
retry to run, one organization's digest, one organization's card notices.

Each is a pydantic dataclass: `body()` is the message as sent and `parse()` reads one back,
refusing a malformed message (it fails its record, so it ends in the queue's DLQ). Instants travel
in their wire form and come back canonical.
"""

from typing import Annotated, Self

from pydantic import AfterValidator, Field, PlainSerializer, TypeAdapter
from pydantic.dataclasses import dataclass

from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Entry

Instant = Annotated[str, AfterValidator(timestamps.canonical), PlainSerializer(timestamps.display)]
Id = Annotated[str, Field(min_length=1, max_length=256)]


class _Message:
    """What the three messages share: their JSON body, written and read by pydantic."""

    def body(self) -> str:
        return _adapter(type(self)).dump_json(self).decode()

    @classmethod
    def parse(cls, body: str | bytes) -> Self:
        return _adapter(cls).validate_json(body)


_ADAPTERS: dict[type, TypeAdapter[object]] = {}


def _adapter[M](model: type[M]) -> TypeAdapter[M]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter  # type: ignore[return-value]


@dataclass(frozen=True)
class RetryWork(_Message):
    """One retry to run: which entry, and which attempt (a stale message does nothing)."""

    organization_id: Id
    entry_id: Id
    attempt: Annotated[int, Field(ge=1)]

    @classmethod
    def of(cls, entry: Entry) -> Self:
        assert entry.retry is not None
        return cls(entry.organization_id, entry.id, entry.retry.attempt)


@dataclass(frozen=True)
class DigestWork(_Message):
    """One organization's digest for one local day; the window ends at `window_end`."""

    organization_id: Id
    window_end: Instant
    local_date: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


@dataclass(frozen=True)
class CardNoticeWork(_Message):
    """One organization's notices, as the scan fired at `now`."""

    organization_id: Id
    now: Instant
