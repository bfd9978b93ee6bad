"""The ports the domain needs. One adapter each (DynamoDB, SQS, EventBridge, the processor);
in-memory fakes in the tests."""

from collections.abc import Sequence
from typing import Protocol

from payment_action_center.listing import EntryFilter, Page, Position
from payment_action_center.model import AuditEvent, BusEvent, Entry


class Delivery(Protocol):
    """A verified webhook delivery: its id is remembered for a while to drop redeliveries."""

    @property
    def endpoint(self) -> str: ...
    @property
    def webhook_id(self) -> str: ...
    @property
    def received_at(self) -> str: ...


class EntryStore(Protocol):
    def record_failure(self, entry: Entry, received: AuditEvent, delivery: Delivery) -> None:
        """Write a new entry, its audit event, its failure-log row and the delivery, atomically.

        Raises StoreConflict naming what already existed ("delivery", "entry"), or
        DeliveryInFlight when a concurrent write of the same items won the race.
        """
        ...

    def transition(
        self,
        entry: Entry,
        event: AuditEvent,
        *,
        outbox: Sequence[BusEvent] = (),
        delivery: Delivery | None = None,
        log_failure: bool = False,
    ) -> None:
        """Write the entry's next version (`entry.version`) over the previous one, atomically
        with its audit event, outbox events, delivery and (log_failure) a failure-log row.
        StoreConflict("entry") if the stored version moved on; ("delivery") if seen before."""
        ...

    def get(self, organization_id: str, entry_id: str) -> Entry:
        """The entry, or NotFound (also for another organization's entry)."""
        ...

    def get_with_audit(self, organization_id: str, entry_id: str) -> tuple[Entry, list[AuditEvent]]:
        """The entry and its audit trail, oldest first."""
        ...

    def list_open(
        self, organization_id: str, where: EntryFilter, limit: int, after: Position | None
    ) -> Page:
        """Open entries matching `where`, newest failure first, `limit` at most."""
        ...

    def pending_retries(self, requested_before: str) -> list[Entry]:
        """Entries with a retry requested before that instant, every organization."""
        ...

    def outbox(self, older_than: str) -> list[BusEvent]:
        """Events written before that instant and not yet published."""
        ...

    def published(self, events: Sequence[BusEvent]) -> None:
        """Forget outbox events once the bus has them."""
        ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[BusEvent]) -> None:
        """Put the events on the bus; PublishFailed if any was refused."""
        ...


class PublishFailed(Exception):
    pass
