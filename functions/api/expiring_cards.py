"""The wallet cards of an organization that expire next month, in its own time zone."""

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler.api_gateway import Router
from route_parts import Cursor, Limit, caller
from wiring import adapters

from payment_action_center.adapters.http.views import ExpiringCardsPage, ExpiringCardView
from payment_action_center.app.expiring_cards import list_expiring
from payment_action_center.domain.listing import DEFAULT_LIMIT

router = Router()


@router.get("/expiring-cards")
def expiring_cards(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> ExpiringCardsPage:
    """Wallet cards linked to scheduled payments that expire next month (organization's time)."""
    listing = list_expiring(
        adapters.billing, adapters.billing, caller(router), datetime.now(UTC), limit, cursor
    )
    return ExpiringCardsPage(
        items=[ExpiringCardView.of(card) for card in listing.cards],
        next_cursor=listing.next_cursor,
    )
