"""The ports the domain needs. One DynamoDB adapter each; in-memory fakes in the tests."""

from typing import Protocol

from payment_action_center.listing import EntryFilter, Page, Position
from payment_action_center.model import AuditEvent, Entry


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
