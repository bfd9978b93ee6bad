"""The expiring card notice (docs/contract.md §1, §4.3): each account holder whose wallet card
expires next month and is linked to an active scheduled payment is emailed once per card and expiry
month.

The scan runs daily: it reads the CardsByExpiry index for next month (UTC), its keys only, and
queues one unit of work per organization found. Each unit reads that organization's cards for
its own "next month" (in the organization's time zone), and sends once per card and expiry month
(payment_action_center/app/sending.py): whatever reruns, retries or duplicate deliveries happen,
nobody gets two; a notice whose send was refused is retried by the next delivery of the unit (or
the next run).
"""

import logging
from datetime import datetime
from functools import partial

from payment_action_center.app import sending
from payment_action_center.app.sending import Message, Report
from payment_action_center.app.work import CardNoticeWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.cards import CardPosition, ExpiringCard, next_month
from payment_action_center.ports import (
    BillingStore,
    CardNoticeRenderer,
    ExpiringCards,
    Mailer,
    SendLedger,
)

log = logging.getLogger(__name__)

PAGE = 100


def scan_month(now: str) -> str:
    """The month the scan reads: next month in UTC. Each organization's own "next month" (in its
    time zone) is decided by the sender; near a month's end the two may differ for a few hours,
    and the next day's run covers it."""
    return next_month(timestamps.to_datetime(now), "UTC")


def due(now: str, cards: ExpiringCards) -> list[CardNoticeWork]:
    """One unit of work per organization with a card listed as expiring next month (UTC)."""
    return [
        CardNoticeWork(organization_id, now)
        for organization_id in cards.organizations_expiring(scan_month(now))
    ]


def send_notices(
    work: CardNoticeWork,
    *,
    billing: BillingStore,
    cards: ExpiringCards,
    ledger: SendLedger,
    mailer: Mailer,
    sender: str,
    render: CardNoticeRenderer,
) -> Report:
    """Once per card and expiry month (the report's period); the report names cards by id."""
    organization = billing.organization(work.organization_id)
    if organization is None:
        log.warning("no settings for an organization", extra={"org": work.organization_id})
        return Report(work.organization_id)
    now: datetime = timestamps.to_datetime(work.now)
    report = Report(organization.id, next_month(now, organization.time_zone))
    messages: list[Message] = []
    for card in _all(cards, organization.id, report.period):
        to = sending.valid_address(card.account_holder.email)
        if to is None:
            log.warning("card notice skipped: not an address", extra={"org": organization.id})
            report.skipped.append(card.card_id)
            continue
        email = partial(render, organization=organization, card=card)
        messages.append(Message(card.card_id, to, email))
    return sending.send_once(messages, report, ledger=ledger, mailer=mailer, sender=sender)


def _all(cards: ExpiringCards, organization_id: str, month: str) -> list[ExpiringCard]:
    found: list[ExpiringCard] = []
    after: CardPosition | None = None
    while True:
        page = cards.expiring(organization_id, month, PAGE, after)
        found.extend(page.items)
        if page.next is None:
            return found
        after = page.next
