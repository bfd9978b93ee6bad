"""The Action Center table: which open entries a query selects, and its opaque cursor."""

import base64
import binascii
import hashlib
import json
import re
from dataclasses import asdict, dataclass

from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Entry, EntryType, Method, Status, fold
from payment_action_center.domain.errors import InvalidCursor

_ENTRY_ID = re.compile(r"^txn_[a-z2-7]{26}$")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class EntryFilter:
    """Filters of GET /transactions; every bound is inclusive, instants are canonical."""

    status: Status | None = None
    type: EntryType | None = None
    method: Method | None = None
    account_holder_id: str | None = None
    q: str | None = None
    failed_from: str | None = None
    failed_to: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None

    @property
    def folded_q(self) -> str | None:
        return fold(self.q) if self.q else None

    @property
    def filters_beyond_time(self) -> bool:
        """True when some entries in the time range may not match (a query must filter)."""
        return any(
            value is not None
            for name, value in asdict(self).items()
            if name not in ("failed_from", "failed_to")
        )

    def matches(self, entry: Entry) -> bool:
        """The rule the DynamoDB filter expression implements; the fakes use it directly."""
        q = self.folded_q
        return (
            entry.status.is_open
            and (self.status is None or entry.status is self.status)
            and (self.type is None or entry.type is self.type)
            and (self.method is None or entry.method is self.method)
            and (self.account_holder_id in (None, entry.account_holder.id))
            and (q is None or q in fold(entry.account_holder.name) or q in fold(entry.payment_id))
            and (self.failed_from is None or entry.failed_at >= self.failed_from)
            and (self.failed_to is None or entry.failed_at <= self.failed_to)
            and (self.min_amount is None or entry.amount >= self.min_amount)
            and (self.max_amount is None or entry.amount <= self.max_amount)
        )

    def fingerprint(self, organization_id: str) -> str:
        """Binds a cursor to the organization and filters it was issued for."""
        payload = json.dumps([organization_id, asdict(self)], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last entry returned, in the table's order (newest failure first)."""

    failed_at: str
    entry_id: str


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next: Position | None


def encode_cursor(position: Position, fingerprint: str) -> str:
    return encode_opaque(fingerprint, position.failed_at, position.entry_id)


def decode_cursor(cursor: str, fingerprint: str) -> Position:
    """The position a cursor names; InvalidCursor for anything this service did not issue."""
    failed_at, entry_id = decode_opaque(cursor, fingerprint, 2)
    if not (_ENTRY_ID.fullmatch(entry_id) and _is_canonical(failed_at)):
        raise InvalidCursor("the cursor is not one this API issued")
    return Position(failed_at=failed_at, entry_id=entry_id)


def encode_opaque(fingerprint: str, *parts: str) -> str:
    """A URL-safe cursor: the fingerprint of the query it belongs to, then the position."""
    raw = json.dumps([fingerprint, *parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_opaque(cursor: str, fingerprint: str, size: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, RecursionError) as error:
        raise InvalidCursor("the cursor is not one this API issued") from error
    if not (
        isinstance(decoded, list)
        and len(decoded) == size + 1
        and all(isinstance(part, str) for part in decoded)
    ):
        raise InvalidCursor("the cursor is not one this API issued")
    if decoded[0] != fingerprint:
        raise InvalidCursor("the cursor was issued for another query: repeat the same filters")
    return list(decoded[1:])


def _is_canonical(instant: str) -> bool:
    try:
        return timestamps.canonical(instant) == instant
    except ValueError:
        return False
