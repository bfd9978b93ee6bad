"""In-memory fakes of the ports, with the same rules as the DynamoDB adapters."""

from dataclasses import dataclass, field

from payment_action_center.errors import NotFound, StoreConflict
from payment_action_center.listing import EntryFilter, Page, Position
from payment_action_center.model import AuditEvent, Entry
from payment_action_center.ports import Delivery


@dataclass
class InMemoryEntryStore:
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    audit: dict[tuple[str, str], list[AuditEvent]] = field(default_factory=dict)
    failure_log: list[tuple[str, str, int]] = field(default_factory=list)
    deliveries: set[tuple[str, str]] = field(default_factory=set)

    def record_failure(self, entry: Entry, received: AuditEvent, delivery: Delivery) -> None:
        key = (entry.organization_id, entry.id)
        failed = set()
        if (delivery.endpoint, delivery.webhook_id) in self.deliveries:
            failed.add("delivery")
        if key in self.entries:
            failed |= {"entry", "audit", "failure_log"}
        if failed:
            raise StoreConflict(frozenset(failed))
        self.entries[key] = entry
        self.audit[key] = [received]
        self.failure_log.append((entry.organization_id, entry.failed_at, entry.attempts))
        self.deliveries.add((delivery.endpoint, delivery.webhook_id))

    def get(self, organization_id: str, entry_id: str) -> Entry:
        try:
            return self.entries[(organization_id, entry_id)]
        except KeyError:
            raise NotFound(f"no transaction {entry_id}") from None

    def get_with_audit(self, organization_id: str, entry_id: str) -> tuple[Entry, list[AuditEvent]]:
        entry = self.get(organization_id, entry_id)
        return entry, list(self.audit.get((organization_id, entry_id), []))

    def list_open(
        self, organization_id: str, where: EntryFilter, limit: int, after: Position | None
    ) -> Page:
        ordered = sorted(
            (
                e
                for (org, _), e in self.entries.items()
                if org == organization_id and where.matches(e)
            ),
            key=lambda e: (e.failed_at, e.id),
            reverse=True,
        )
        if after is not None:
            ordered = [
                e for e in ordered if (e.failed_at, e.id) < (after.failed_at, after.entry_id)
            ]
        page = ordered[:limit]
        more = len(ordered) > limit
        return Page(page, Position(page[-1].failed_at, page[-1].id) if more else None)
