"""The expiring-cards section (docs/contract.md §4.2): an organization's wallet cards linked to
active scheduled payments that expire next month, "next month" in the organization's own time
zone, one page at a time."""

import re
from dataclasses import dataclass
from datetime import datetime

from payment_action_center.domain.cards import CardPosition, ExpiringCard, next_month
from payment_action_center.domain.entries import Caller
from payment_action_center.domain.errors import InvalidCursor
from payment_action_center.domain.listing import decode_opaque, encode_opaque
from payment_action_center.ports import BillingStore, ExpiringCards

# The card ids the billing webhook accepts (adapters/http/payment_webhook.py, `Id`).
_CARD_ID = re.compile(r"^[A-Za-z0-9_.:~-]{1,128}$")

# Until the organization's settings arrive (organization.upserted), months are counted in UTC.
FALLBACK_TIME_ZONE = "UTC"


@dataclass(frozen=True)
class ExpiringListing:
    month: str  # YYYY-MM
    cards: list[ExpiringCard]
    next_cursor: str | None


def list_expiring(
    billing: BillingStore,
    cards: ExpiringCards,
    caller: Caller,
    now: datetime,
    limit: int,
    cursor: str | None,
) -> ExpiringListing:
    """A cursor is bound to the organization and the month it was made for (InvalidCursor)."""
    organization = billing.organization(caller.org_id)
    zone = organization.time_zone if organization else FALLBACK_TIME_ZONE
    month = next_month(now, zone)
    fingerprint = f"{caller.org_id}#{month}"
    after = None
    if cursor:
        organization_id, card_id = decode_opaque(cursor, fingerprint, 2)
        if organization_id != caller.org_id or not _CARD_ID.fullmatch(card_id):
            # Never issued: a page starts at one of the caller's own cards, whose ids are those
            # the billing webhook accepts (the Query's start key must lie in the caller's key
            # range and be text DynamoDB can store, or the Query fails: a 500).
            raise InvalidCursor("the cursor is not one this API issued")
        after = CardPosition(organization_id, card_id)
    page = cards.expiring(caller.org_id, month, limit, after)
    following = page.next
    return ExpiringListing(
        month=month,
        cards=list(page.items),
        next_cursor=(
            encode_opaque(fingerprint, following.organization_id, following.card_id)
            if following
            else None
        ),
    )
