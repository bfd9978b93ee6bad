"""The expiring card notice (docs/contract.md §1, §4.3): each account holder whose wallet card
expires next
month and is linked to an active scheduled payment is emailed once per card and expiry month.

The scan runs daily: it reads the CardsByExpiry index for next month (UTC) and queues one unit of
work per organization found. Each unit reads that organization's cards for its own "next month"
(in the organization's time zone). A ledger row per card and expiry month is claimed before
sending: whatever reruns, retries or duplicate deliveries happen, nobody gets two; a notice whose
send was refused is released and retried by the next delivery of the unit (or the next run).
"""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, Self

from email_validator import EmailNotValidError, validate_email

from payment_action_center import timestamps
from payment_action_center.billing import BillingStore
from payment_action_center.cards import CardPosition, ExpiringCard, ExpiringCards, next_month
from payment_action_center.digest import Mailer, MailerError, MailerOutcomeUnknown
from payment_action_center.emails.card_notice import render_card_notice
from payment_action_center.emails.mime import mime_message

log = logging.getLogger(__name__)

PAGE = 100


@dataclass(frozen=True)
class CardNoticeWork:
    """One organization's notices, as the scan fired at `now`."""

    organization_id: str
    now: str

    def body(self) -> str:
        return json.dumps(
            {"organization_id": self.organization_id, "now": timestamps.display(self.now)}
        )

    @classmethod
    def parse(cls, body: str) -> Self:
        data = json.loads(body)
        return cls(str(data["organization_id"]), timestamps.canonical(str(data["now"])))


class CardNoticeLedger(Protocol):
    def claim(self, organization_id: str, month: str, card_id: str) -> bool:
        """True when this run may send the card's notice (never sent, or a send that failed)."""
        ...

    def sent(self, organization_id: str, month: str, card_id: str) -> None: ...

    def release(self, organization_id: str, month: str, card_id: str, error: str) -> None: ...


class CardNoticeQueue(Protocol):
    def send_all(self, work: Sequence[CardNoticeWork]) -> None: ...


def scan_month(now: str) -> str:
    """The month the scan reads: next month in UTC. Each organization's own "next month" (in its
    time zone) is decided by the sender; near a month's end the two may differ for a few hours,
    and the next day's run covers it."""
    return next_month(timestamps.to_datetime(now), "UTC")


def due(now: str, cards: ExpiringCards) -> list[CardNoticeWork]:
    """One unit of work per organization with a qualifying card expiring next month (UTC)."""
    month = scan_month(now)
    organizations: dict[str, None] = {}
    after: CardPosition | None = None
    while True:
        page = cards.expiring(None, month, PAGE, after)
        for card in page.items:
            organizations.setdefault(card.organization_id, None)
        if page.next is None:
            break
        after = page.next
    return [CardNoticeWork(org, now) for org in organizations]


@dataclass
class Report:
    month: str = ""
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def send_notices(
    work: CardNoticeWork,
    *,
    billing: BillingStore,
    cards: ExpiringCards,
    ledger: CardNoticeLedger,
    mailer: Mailer,
    sender: str,
) -> Report:
    report = Report()
    organization = billing.organization(work.organization_id)
    if organization is None:
        log.warning("no settings for an organization", extra={"org": work.organization_id})
        return report
    now: datetime = timestamps.to_datetime(work.now)
    month = next_month(now, organization.time_zone)
    report.month = month
    for card in _all(cards, organization.id, month):
        try:
            to = validate_email(card.account_holder.email, check_deliverability=False).normalized
        except EmailNotValidError:
            log.warning("card notice skipped: not an address", extra={"org": organization.id})
            report.skipped.append(card.card_id)
            continue
        if not ledger.claim(organization.id, month, card.card_id):
            report.already_sent.append(card.card_id)
            continue
        email = render_card_notice(organization=organization, card=card)
        try:
            mailer.send(sender, to, mime_message(email, sender=sender, to=to))
        except MailerError as error:
            ledger.release(organization.id, month, card.card_id, str(error))
            report.failed.append(card.card_id)
            continue
        except MailerOutcomeUnknown:
            # At most once: the claim stays "sending" and this card is not tried again.
            log.exception("card notice outcome unknown", extra={"org": organization.id})
            report.unknown.append(card.card_id)
            continue
        ledger.sent(organization.id, month, card.card_id)
        report.sent.append(card.card_id)
    return report


def _all(cards: ExpiringCards, organization_id: str, month: str) -> list[ExpiringCard]:
    found: list[ExpiringCard] = []
    after: CardPosition | None = None
    while True:
        page = cards.expiring(organization_id, month, PAGE, after)
        found.extend(page.items)
        if page.next is None:
            return found
        after = page.next
