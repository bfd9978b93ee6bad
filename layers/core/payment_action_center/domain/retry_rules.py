"""The retry guard (docs/contract.md §4.2): whether the card networks' and the banks' rules let a
failed entry be charged again now, and if not, why in words and, when waiting is the answer,
from when.

A retry is refused when the failure's class is `never_retry` (domain/declines.py), before a
Mastercard "retry after" delay has passed since the failure, when a debit was already presented
again as often as the bank rules allow or its original is too old, or when the card was already
reattempted as often as its network allows in a rolling 30 days (counted by the caller across
every entry of the same payment method). A payment method changed since the failure is a new
card or account: the failure's own rules no longer hold (its network cap still counts, for the
new card).

The caps are configuration (RetryCaps, the API's settings) whose defaults are the networks' and
Nacha's: Visa 15 reattempts in 30 days, Mastercard 35, a debit presented again twice within 180
days of the original.
"""

from dataclasses import dataclass
from datetime import timedelta

from payment_action_center.domain import timestamps
from payment_action_center.domain.declines import DeclineClass, guidance
from payment_action_center.domain.entries import Entry, EntryType, Method, Network

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


def retry_refusal(
    entry: Entry,
    now: str,
    caps: RetryCaps,
    *,
    method_changed: bool = False,
    card_reattempts: int = 0,
) -> Refusal | None:
    """None when the rules let the entry be retried now. `method_changed`: the scheduled
    payment's method was replaced after the failure (the billing platform's, which the caller
    reads); `card_reattempts`: the retries of the same card in the last 30 days, across entries
    (0 when the caller does not count them)."""
    if entry.type is EntryType.CREDIT_CARD_REFUND:
        return None  # a refund is no reattempt of a declined charge
    if not method_changed:
        refused = _failure_rules(entry, now, caps)
        if refused is not None:
            return refused
    if entry.method is Method.CREDIT_CARD:
        cap = caps.card_reattempts(entry.failure.network)
        if card_reattempts >= cap:
            return Refusal(
                f"this card was already retried {card_reattempts} times in the last 30 days, "
                f"the most its network allows ({cap}) without a fee for each reattempt"
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
