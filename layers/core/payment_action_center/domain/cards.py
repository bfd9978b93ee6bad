"""Expiring cards (docs/contract.md §1, §4.2): wallet cards linked to active scheduled payments that
expire in a given month, read from the sparse CardsByExpiry index and checked against the current
state.

The index is maintained by the billing webhooks (domain/billing.py `plan`); this module says what a
reader gets and which month "next month" is.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from payment_action_center.domain.billing import CardRecord, ScheduledPayment
from payment_action_center.domain.entries import AccountHolder, PaymentKind


@dataclass(frozen=True)
class ScheduledAtStake:
    """An active scheduled payment charged to the card."""

    scheduled_payment_id: str
    kind: PaymentKind
    next_payment_at: str
    amount: int
    currency: str


@dataclass(frozen=True)
class ExpiringCard:
    card_id: str
    organization_id: str
    account_holder: AccountHolder
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    scheduled_payments: tuple[ScheduledAtStake, ...]


@dataclass(frozen=True)
class CardPosition:
    """Where a page ended: the last card listed (the index orders by organization, then card)."""

    organization_id: str
    card_id: str


@dataclass(frozen=True)
class ExpiringPage:
    items: list[ExpiringCard]
    next: CardPosition | None  # None on the last page


def next_month(now: datetime, time_zone: str) -> str:
    """ "YYYY-MM" of the month after the one `now` (an aware instant) falls in, in the time zone.
    December is followed by January of the next year."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    local = now.astimezone(ZoneInfo(time_zone))
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return f"{year:04d}-{month:02d}"


def expiring_card(
    record: CardRecord, month: str, payments: dict[str, ScheduledPayment]
) -> ExpiringCard | None:
    """The listing of a card record read now, or None if it does not qualify for `month`
    (any more: the index it was found in lags behind the table)."""
    card = record.card
    if record.expiry_month != month or card is None:
        return None
    assert card.account_holder is not None
    assert card.brand is not None and card.last4 is not None
    assert card.exp_month is not None and card.exp_year is not None
    at_stake = sorted(
        (
            ScheduledAtStake(p.id, p.kind, p.next_payment_at, p.amount, p.currency)
            for sid in record.linked_schedules
            if (p := payments.get(sid)) is not None
            and p.active
            and p.kind is not None
            and p.next_payment_at is not None
            and p.amount is not None
            and p.currency is not None
        ),
        key=lambda s: (s.next_payment_at, s.scheduled_payment_id),
    )
    return ExpiringCard(
        card_id=card.id,
        organization_id=card.organization_id,
        account_holder=card.account_holder,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        scheduled_payments=tuple(at_stake),
    )
