"""The Action Center table (docs/contract.md §4.2): which open entries a query selects, one page
at a time behind an opaque cursor bound to the query that made it."""

from dataclasses import dataclass

from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Caller, Entry, EntryType, Method, Status
from payment_action_center.domain.errors import InvalidCursor, InvalidQuery
from payment_action_center.domain.listing import EntryFilter, decode_cursor, encode_cursor
from payment_action_center.ports import EntryStore


@dataclass(frozen=True)
class Listing:
    entries: list[Entry]
    next_cursor: str | None


def entry_filter(
    *,
    status: Status | None = None,
    entry_type: EntryType | None = None,
    method: Method | None = None,
    account_holder_id: str | None = None,
    q: str | None = None,
    failed_from: str | None = None,
    failed_to: str | None = None,
    min_amount: int | None = None,
    max_amount: int | None = None,
) -> EntryFilter:
    """The filter of a query, as the admin wrote it; InvalidQuery names the parameter at fault."""
    if status is not None and not status.is_open:
        raise InvalidQuery("status", "the table lists open entries: failed or retry_pending")
    if min_amount is not None and max_amount is not None and min_amount > max_amount:
        raise InvalidQuery("max_amount", "is below min_amount")
    lower, upper = _instant("from", failed_from), _instant("to", failed_to)
    if lower is not None and upper is not None and lower > upper:
        raise InvalidQuery("to", "is before from")
    return EntryFilter(
        status=status,
        type=entry_type,
        method=method,
        account_holder_id=account_holder_id,
        q=q,
        failed_from=lower,
        failed_to=upper,
        min_amount=min_amount,
        max_amount=max_amount,
    )


def list_open(
    store: EntryStore, caller: Caller, where: EntryFilter, limit: int, cursor: str | None
) -> Listing:
    """The caller's organization's open entries, newest failure first. A cursor made for another
    organization or another filter is refused (InvalidCursor)."""
    fingerprint = where.fingerprint(caller.org_id)
    after = decode_cursor(cursor, fingerprint) if cursor else None
    if after is not None and not _within(where, after.failed_at):
        # Never issued: a page of a time range starts inside it (the Query's start key must lie
        # in its key range, or DynamoDB refuses the Query: a 500).
        raise InvalidCursor("the cursor is not one this API issued")
    page = store.list_open(caller.org_id, where, limit, after)
    return Listing(page.entries, encode_cursor(page.next, fingerprint) if page.next else None)


def _within(where: EntryFilter, failed_at: str) -> bool:
    """Whether a canonical instant lies in the filter's inclusive `from`/`to` range."""
    return (where.failed_from is None or failed_at >= where.failed_from) and (
        where.failed_to is None or failed_at <= where.failed_to
    )


def _instant(parameter: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return timestamps.canonical(value)
    except ValueError as error:
        raise InvalidQuery(parameter, str(error)) from None
