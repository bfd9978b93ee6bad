"""The retry guard (docs/contract.md §4.2): whether the card networks' and the banks' rules let a
failed entry be charged again now, and if not, why in words and, when waiting is the answer,
from when.

A retry is refused when the failure's class is `never_retry` (domain/declines.py), before a
Mastercard "retry after" delay has passed since the failure, when a debit was already presented
again as often as the bank rules allow or its original is too old, or when the card was already
reattempted as often as its network allows in a rolling 30 days (counted by the caller across
every entry of the organization; then allowed again once the oldest of them leaves the window).
A payment method changed since the failure is a new card or account: the failure's own rules no
longer hold, and the cap counted is the new card's, with its network's limit.

The caps are configuration (RetryCaps; adapters/retry_settings.py) whose defaults are the
networks' and Nacha's: Visa 15 reattempts in 30 days, Mastercard 35, a debit presented again
twice within 180 days of the original.
"""

from dataclasses import dataclass
from datetime import timedelta

from payment_action_center.domain import timestamps
from payment_action_center.domain.declines import DeclineClass, guidance
from payment_action_center.domain.entries import (
    Entry,
    EntryType,
    Method,
    Network,
    PaymentMethod,
)

CARD_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class RetryCaps:
    """How many retries the rules allow. Networks without a published cap get Visa's, the
    stricter of the two."""

    visa_reattempts: int = 15
    mastercard_reattempts: int = 35
    debit_representments: int = 2
    debit_window: timedelta = timedelta(days=180)

    def card_reattempts(self, network: Network | None) -> int:
        if network is Network.MASTERCARD:
            return self.mastercard_reattempts
        return self.visa_reattempts


@dataclass(frozen=True)
class Refusal:
    """Why a retry is not allowed now, and from when it will be (None: not by waiting)."""

    reason: str
    allowed_at: str | None = None


@dataclass(frozen=True)
class CardReattempts:
    """A card's reattempts in the last 30 days, across the organization's entries: the instants
    they were requested, oldest first, and the card's network (whose cap applies)."""

    network: Network | None
    at: tuple[str, ...]


def network_of(method: PaymentMethod) -> Network | None:
    """The card's network from its brand as the billing platform names it ("visa", "Visa",
    "MasterCard"…), or None."""
    brand = (method.brand or "").lower().replace(" ", "")
    try:
        return Network(brand)
    except ValueError:
        return None


def card_of(method: PaymentMethod) -> str:
    """The card as the networks count its reattempts: the billing platform's card id, which
    stays the same when the card is saved again under a new token, else the token."""
    return method.card_id or method.token


def reattempted_card(entry: Entry, charged: PaymentMethod, method: Method) -> str | None:
    """The card a retry of the entry reattempts, charging `charged` by `method` (what
    domain/billing.py `retry_charges` says): None for a refund, which is no reattempt of a
    declined charge, and for a debit, whose presentments are counted on the entry itself."""
    if method is not Method.CREDIT_CARD or entry.type is EntryType.CREDIT_CARD_REFUND:
        return None
    return card_of(charged)


def card_network(entry: Entry, charged: PaymentMethod) -> Network | None:
    """The network whose cap holds for a retry charging `charged`: the one that declined the
    failed card (else its brand's) when it is that card, the new card's brand's otherwise."""
    failed = entry.payment_method
    same = charged.token == failed.token or (
        charged.card_id is not None and charged.card_id == failed.card_id
    )
    if same:
        return entry.failure.network or network_of(failed)
    return network_of(charged)


def retry_refusal(
    entry: Entry,
    now: str,
    caps: RetryCaps,
    *,
    method_changed: bool = False,
    card: CardReattempts | None = None,
) -> Refusal | None:
    """None when the rules let the entry be retried now. `method_changed`: the scheduled
    payment's method was replaced after the failure (the billing platform's, which the caller
    reads); `card`: the reattempts of the card the retry would charge (None when the caller
    did not count them, or the retry reattempts no card)."""
    if entry.type is EntryType.CREDIT_CARD_REFUND:
        return None  # a refund is no reattempt of a declined charge
    if not method_changed:
        refused = _failure_rules(entry, now, caps)
        if refused is not None:
            return refused
    if card is not None:
        cap = caps.card_reattempts(card.network)
        if len(card.at) >= cap:
            # Allowed again once the window holds one fewer than the cap.
            allowed_at = timestamps.plus(card.at[len(card.at) - cap], CARD_WINDOW)
            return Refusal(
                f"this card was already retried {len(card.at)} times in the last 30 days, the "
                f"most its network allows ({cap}) without a fee for each reattempt",
                allowed_at,
            )
    return None


def _failure_rules(entry: Entry, now: str, caps: RetryCaps) -> Refusal | None:
    guided = guidance(entry.type, entry.method, entry.failure)
    if guided.decline_class is DeclineClass.NEVER_RETRY:
        return Refusal(guided.reason)
    # The bank rules let a debit returned for its account or its details be presented again
    # only with other ones (Nacha 2.12.4): the same debit again is refused.
    if entry.method is Method.ECHECK and guided.decline_class is not DeclineClass.RETRY_LATER:
        return Refusal(guided.reason)
    if guided.retry_after is not None:
        allowed_at = timestamps.plus(entry.failed_at, guided.retry_after)
        if now < allowed_at:
            return Refusal(f"{guided.reason} (from {timestamps.display(allowed_at)})", allowed_at)
    if entry.method is Method.ECHECK:
        presented_again = entry.attempts - 1
        if presented_again >= caps.debit_representments:
            return Refusal(
                f"this debit was already presented again {presented_again} times, the most the "
                f"bank rules allow ({caps.debit_representments})"
            )
        too_old = timestamps.plus(entry.received_at, caps.debit_window)
        if now > too_old:
            return Refusal(
                f"the original debit is more than {caps.debit_window.days} days old: the bank "
                "rules no longer allow presenting it again"
            )
    return None
