"""Changes and their events, written together (docs/contract.md §2): an entry's change is written
with its audit event and the events for the bus (the outbox) in one transaction; the events are
published after, and whatever fails to publish waits for the watchdog (watchdog.py).
"""

import logging
import uuid
from typing import Any

from payment_action_center.domain.entries import (
    AuditEvent,
    BusEvent,
    Entry,
)
from payment_action_center.domain.errors import Conflict
from payment_action_center.ports import (
    EntryStore,
    EventPublisher,
    PublishFailed,
    StoreConflict,
)

log = logging.getLogger(__name__)


def publish(store: EntryStore, publisher: EventPublisher, events: list[BusEvent]) -> None:
    """Publish outbox events and forget them; on failure they wait for the watchdog."""
    try:
        publisher.publish(events)
    except PublishFailed:
        log.exception("events left in the outbox for the watchdog to republish")
        return
    try:
        store.published(events)
    except Exception:  # the change and the publish are done: a leftover row is republished
        log.exception("published events not cleared from the outbox")


def bus_event(at: str, detail_type: str, detail: dict[str, Any]) -> BusEvent:
    return BusEvent(id=uuid.uuid4().hex, at=at, detail_type=detail_type, detail=detail)


def transition(
    store: EntryStore,
    entry: Entry,
    event: AuditEvent,
    outbox: list[BusEvent] | None = None,
    *,
    card_attempt: str | None = None,
) -> None:
    """Write an entry's change with its audit event and outbox (and a card's reattempt), if
    nobody changed it meanwhile."""
    try:
        store.transition(entry, event, outbox=outbox or [], card_attempt=card_attempt)
    except StoreConflict:
        raise Conflict("the transaction changed meanwhile: reload it and try again") from None
