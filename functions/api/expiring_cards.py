"""The wallet cards of an organization that expire next month, in its own time zone."""

from datetime import UTC, datetime

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler.api_gateway import Router
from route_parts import Cursor, Limit, caller
from wiring import adapters

from payment_action_center.adapters.http.views import ExpiringCardsPage, ExpiringCardView
from payment_action_center.domain import cards
from payment_action_center.domain.listing import DEFAULT_LIMIT, decode_opaque, encode_opaque

router = Router()
tracer = Tracer()


@router.get("/expiring-cards")
@tracer.capture_method(capture_response=False)
def expiring_cards(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> ExpiringCardsPage:
    """Wallet cards linked to scheduled payments that expire next month (organization's time)."""
    who = caller(router)
    organization = adapters.billing.organization(who.org_id)
    zone = organization.time_zone if organization else "UTC"
    month = cards.next_month(datetime.now(UTC), zone)
    fingerprint = f"{who.org_id}#{month}"
    after = None
    if cursor:
        organization_id, card_id = decode_opaque(cursor, fingerprint, 2)
        after = cards.CardPosition(organization_id, card_id)
    page = adapters.billing.expiring(who.org_id, month, limit, after)
    following = page.next
    return ExpiringCardsPage(
        items=[ExpiringCardView.of(card) for card in page.items],
        next_cursor=(
            encode_opaque(fingerprint, following.organization_id, following.card_id)
            if following
            else None
        ),
    )
