"""The billing platform's state as the Action Center keeps it (docs/contract.md §4.1):
organization settings, scheduled payments and wallet cards.

The platform sends whole states, possibly out of order. A state is replaced only by an event that
is not older (`occurred_at` at full precision; an equal one applies), so every ordering of the
same deliveries ends in the same state.

Cards and scheduled payments meet on the card record (one per card id): the card's state as last
sent (None while only scheduled payments naming it are known: a stub) and the ids of the active
scheduled payments whose `payment_method.card_id` is that card. `plan` says, for one change, the
new state and every card record it touches; the stores write them together.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import assert_never
from urllib.parse import quote

from payment_action_center.domain.entries import (
    AccountHolder,
    Entry,
    Locale,
    Method,
    PaymentKind,
    PaymentMethod,
)

HOLDER_PLACEHOLDER = "{account_holder_id}"


@dataclass(frozen=True)
class Organization:
    """An organization's settings, as the billing platform last sent them."""

    id: str
    name: str
    billing_contact_email: str
    locale: Locale
    time_zone: str
    console_url: str
    upcoming_payments_url_template: str
    client_url_template: str
    card_update_url_template: str
    state_at: str
    # The organization's account at the payment processor (a Stripe Connect account, `acct_…`):
    # where its retries are charged. None until the billing platform sends one.
    processor_account_id: str | None = None

    def upcoming_payments_url(self, account_holder_id: str) -> str:
        """The customer's Upcoming payments page in the main platform."""
        return self.upcoming_payments_url_template.replace(
            HOLDER_PLACEHOLDER, quote(account_holder_id, safe="")
        )


@dataclass(frozen=True)
class ScheduledPayment:
    """An installment plan or a subscription. Once ended it stays, inactive, with what was known;
    ended before any upsert arrived, it is a tombstone: its details (kind included) are None."""

    organization_id: str
    id: str
    kind: PaymentKind | None
    account_holder: AccountHolder | None
    payment_method: PaymentMethod | None
    method: Method | None
    next_payment_at: str | None
    amount: int | None
    currency: str | None
    active: bool
    state_at: str


def retry_charges(entry: Entry, scheduled: ScheduledPayment | None) -> tuple[PaymentMethod, Method]:
    """What a retry of the entry charges, and by which method: the scheduled payment's method
    when the billing platform set it after the one the failure names (`payment_method_at`),
    else the failed payment's own. The retry worker charges it; the retry guard judges it."""
    if (
        scheduled is not None
        and scheduled.payment_method is not None
        and scheduled.state_at > entry.payment_method_at
    ):
        return scheduled.payment_method, scheduled.method or entry.method
    return entry.payment_method, entry.method


def another_method(new: PaymentMethod, failed: PaymentMethod) -> bool:
    """Whether `new` is another card or account than `failed`: another token, and not the same
    card saved again (a new token, the same card id), which is the card the networks' rules
    are about."""
    same_card = new.card_id is not None and new.card_id == failed.card_id
    return new.token != failed.token and not same_card


@dataclass(frozen=True)
class ScheduledPaymentEnded:
    """`scheduled_payment.ended`: the payment stays known, inactive, as of `state_at`."""

    organization_id: str
    scheduled_payment_id: str
    state_at: str

    def applied_to(self, current: ScheduledPayment | None) -> ScheduledPayment:
        if current is None:
            # A tombstone, so that an older upsert arriving later cannot bring it back.
            return ScheduledPayment(
                organization_id=self.organization_id,
                id=self.scheduled_payment_id,
                kind=None,
                account_holder=None,
                payment_method=None,
                method=None,
                next_payment_at=None,
                amount=None,
                currency=None,
                active=False,
                state_at=self.state_at,
            )
        return replace(current, active=False, state_at=self.state_at)


@dataclass(frozen=True)
class Card:
    """A saved card as the billing platform last sent it. Deleted, it stays (deleted=True) with
    what was known; deleted before any upsert arrived, it is a tombstone with no details."""

    organization_id: str
    id: str
    account_holder: AccountHolder | None
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    in_wallet: bool
    deleted: bool
    state_at: str

    @property
    def expiry_month(self) -> str | None:
        """ "YYYY-MM", the month the card expires at the end of."""
        if self.exp_year is None or self.exp_month is None:
            return None
        return f"{self.exp_year:04d}-{self.exp_month:02d}"


@dataclass(frozen=True)
class CardDeleted:
    """`card.deleted`: the card stays known, deleted, as of `state_at`."""

    organization_id: str
    card_id: str
    state_at: str

    def applied_to(self, current: Card | None) -> Card:
        if current is None:
            # A tombstone, so that an older upsert arriving later cannot bring it back.
            return Card(
                organization_id=self.organization_id,
                id=self.card_id,
                account_holder=None,
                brand=None,
                last4=None,
                exp_month=None,
                exp_year=None,
                in_wallet=False,
                deleted=True,
                state_at=self.state_at,
            )
        return replace(current, deleted=True, state_at=self.state_at)


@dataclass(frozen=True)
class CardRecord:
    """What is kept per card id: its state (None for a stub, when only scheduled payments naming
    it are known), the active scheduled payments linked to it, and a version that grows by one
    on every write (0: not stored yet) for optimistic concurrency."""

    organization_id: str
    card_id: str
    card: Card | None
    linked_schedules: frozenset[str]
    version: int

    @property
    def expiry_month(self) -> str | None:
        """The month under which the card is listed, or None while it does not qualify: it must
        be known, in the wallet, not deleted, and linked to at least one active scheduled
        payment (docs/contract.md §1)."""
        card = self.card
        if card is None or card.deleted or not card.in_wallet or not self.linked_schedules:
            return None
        return card.expiry_month

    @staticmethod
    def new(organization_id: str, card_id: str) -> "CardRecord":
        return CardRecord(organization_id, card_id, None, frozenset(), 0)


type BillingChange = Organization | ScheduledPayment | ScheduledPaymentEnded | Card | CardDeleted
type CardChange = Card | CardDeleted
type ScheduledPaymentChange = ScheduledPayment | ScheduledPaymentEnded


@dataclass(frozen=True)
class Plan:
    """What one card or scheduled-payment change writes: the new state (for a card change, the
    card record carries it), and the card records touched, each at its next version."""

    state: ScheduledPayment | None
    cards: tuple[CardRecord, ...]


def linked_card(payment: ScheduledPayment | None) -> str | None:
    """The card an active scheduled payment is linked to, if any."""
    if payment is None or not payment.active or payment.payment_method is None:
        return None
    return payment.payment_method.card_id


def cards_touched(
    change: CardChange | ScheduledPaymentChange, current: ScheduledPayment | None
) -> list[str]:
    """The card ids whose records a change may rewrite (current: the scheduled payment's
    recorded state, for a scheduled-payment change)."""
    match change:
        case Card():
            return [change.id]
        case CardDeleted():
            return [change.card_id]
        case ScheduledPayment() | ScheduledPaymentEnded():
            ids = [linked_card(current), linked_card(change_state(change, current))]
            return list(dict.fromkeys(i for i in ids if i is not None))
        case _:
            assert_never(change)


def change_state(
    change: ScheduledPaymentChange, current: ScheduledPayment | None
) -> ScheduledPayment:
    if isinstance(change, ScheduledPaymentEnded):
        return change.applied_to(current)
    return change


def is_stale(change: BillingChange, current_state_at: str | None) -> bool:
    return current_state_at is not None and current_state_at > change.state_at


def plan(
    change: CardChange | ScheduledPaymentChange,
    current: ScheduledPayment | None,
    records: Mapping[str, CardRecord],
) -> Plan | None:
    """The writes of a change, given the recorded scheduled payment (for a scheduled-payment
    change) and the card records of `cards_touched` (CardRecord.new for unknown ones).
    None when the recorded state is newer: a stale event changes nothing."""
    match change:
        case Card() | CardDeleted():
            card_id = change.id if isinstance(change, Card) else change.card_id
            record = records[card_id]
            if is_stale(change, None if record.card is None else record.card.state_at):
                return None
            card = change if isinstance(change, Card) else change.applied_to(record.card)
            return Plan(None, (replace(record, card=card, version=record.version + 1),))
        case ScheduledPayment() | ScheduledPaymentEnded():
            if is_stale(change, None if current is None else current.state_at):
                return None
            state = change_state(change, current)
            after = linked_card(state)
            written: list[CardRecord] = []
            for card_id in cards_touched(change, current):
                record = records[card_id]
                links = set(record.linked_schedules) - {state.id}
                if card_id == after:
                    links.add(state.id)
                if frozenset(links) != record.linked_schedules:
                    written.append(
                        replace(
                            record, linked_schedules=frozenset(links), version=record.version + 1
                        )
                    )
            return Plan(state, tuple(written))
        case _:
            assert_never(change)
