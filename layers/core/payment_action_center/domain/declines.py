"""Decline guidance: what a billing admin should do about an entry, from its failure's code
(docs/contract.md §4.2, `recommended_action`).

The code is the one the processor reported and the entry keeps as `failure.code`: a card
network's or issuer's decline reason (`expired_card`, `do_not_honor`…), a bank's reason for
returning an e-check, as a word (`account_closed`) or as its return code (ACH `R01`, Canadian
PAD `901`). Codes are compared case-insensitively, once trimmed.

The contract's rule: a hard decline (the card or account will never pay) means changing the
payment method; a soft decline (the issuer cannot pay now) means retrying later; insufficient
funds on an e-check means waiting for the payer's next pay before retrying; a refund that failed
for insufficient funds means the merchant account must be funded first.

A code this module does not know gets `review`, not a guess: retrying a hard decline can cost a
fee or flag the merchant, and sending a customer to change a method that works wastes their
time, so an unknown reason is read (the entry's `failure.message`) before anyone acts.
"""

from enum import StrEnum

from payment_action_center.domain.entries import EntryType, Method


class RecommendedAction(StrEnum):
    """What the billing admin should do next about an entry."""

    CHANGE_PAYMENT_METHOD = "change_payment_method"
    RETRY_LATER = "retry_later"
    WAIT_FOR_PAYDAY = "wait_for_payday"
    FUND_MERCHANT_ACCOUNT = "fund_merchant_account"
    REVIEW = "review"


# --- card and bank codes, as words -----------------------------------------------------------

# Not enough money in the payer's account or on the card right now (`insufficient_funds`, the
# bank's `nsf`). Whether that means "retry later", "wait for payday" or, for a refund, "fund the
# merchant account" depends on the entry (recommended_action).
_INSUFFICIENT_FUNDS = frozenset({"insufficient_funds", "nsf"})

# A refund is paid from the merchant's balance: these also say that balance is too low.
_MERCHANT_BALANCE_LOW = _INSUFFICIENT_FUNDS | {"balance_insufficient"}

# Hard declines: the card or the account cannot be charged again as it is. It is expired, lost,
# stolen or kept by the issuer (`pickup_card`); its number, expiry, CVC or postal code is wrong;
# the issuer suspects fraud (`fraudulent`, `merchant_blacklist`, `security_violation`); the card
# cannot make this kind of payment or in this currency; the account is closed, frozen, unknown
# or not the payer's; the payer revoked the authorization (`revocation_of_authorization`,
# `stop_payment_order`, `debit_not_authorized`: a bank debit may not be sent again without a new
# authorization); the issuer wants the card holder present (`authentication_required`: an
# off-session retry fails the same way, the payment method update brings the holder back).
_HARD = frozenset(
    {
        "expired_card",
        "lost_card",
        "stolen_card",
        "pickup_card",
        "restricted_card",
        "fraudulent",
        "merchant_blacklist",
        "security_violation",
        "incorrect_number",
        "invalid_number",
        "incorrect_cvc",
        "invalid_cvc",
        "incorrect_zip",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "card_not_supported",
        "currency_not_supported",
        "not_permitted",
        "service_not_allowed",
        "transaction_not_allowed",
        "new_account_information_available",
        "do_not_try_again",
        "revocation_of_authorization",
        "revocation_of_all_authorizations",
        "stop_payment_order",
        "authentication_required",
        "invalid_account",
        "invalid_account_number",
        "account_closed",
        "account_frozen",
        "no_account",
        "bank_account_restricted",
        "bank_ownership_changed",
        "incorrect_account_holder_name",
        "debit_not_authorized",
    }
)

# Soft declines: the issuer or the network could not approve now but may later. A processing or
# issuer outage (`processing_error`, `try_again_later`, `issuer_not_available`,
# `could_not_process`); a request to send it again (`reenter_transaction`, `approve_with_id`,
# `no_action_taken`); the card's spending or withdrawal limit for the period, which resets
# (`card_velocity_exceeded`, `withdrawal_count_limit_exceeded`); and the generic refusals that
# give no reason (`card_declined`, `generic_decline`, `do_not_honor`, `call_issuer`), which the
# card networks let a merchant retry a limited number of times.
_SOFT = frozenset(
    {
        "processing_error",
        "try_again_later",
        "issuer_not_available",
        "could_not_process",
        "reenter_transaction",
        "approve_with_id",
        "no_action_taken",
        "card_velocity_exceeded",
        "withdrawal_count_limit_exceeded",
        "card_declined",
        "generic_decline",
        "do_not_honor",
        "call_issuer",
    }
)

# Of the soft declines, the ones that say nothing about the payer: an outage on the way. Only
# these say "retry later" for a refund, whose other failures need reading (recommended_action).
_TRANSIENT = frozenset(
    {
        "processing_error",
        "try_again_later",
        "issuer_not_available",
        "could_not_process",
        "reenter_transaction",
    }
)

# --- bank return codes: they mean something on an e-check only ----------------------------------

# Not enough money: ACH R01 (insufficient funds) and R09 (uncollected funds), which the ACH rules
# let the merchant present again, twice at most; PAD 901 (NSF) and 908 (funds not cleared).
_BANK_NO_FUNDS = frozenset({"r01", "r09", "901", "908"})

# The account will not pay: closed, unknown, invalid, frozen, sold to another bank, not a
# transaction account, its holder deceased (ACH R02, R03, R04, R12, R13, R14, R15, R16, R20;
# PAD 902, 905, 907, 909, 910, 911, 912, 914). Or the payer refused the debit: unauthorized,
# authorization revoked, payment stopped (ACH R05, R07, R08, R10, R29; PAD 903, 915, 917, 918,
# 920, 921): the debit may not be sent again without a new authorization.
_BANK_HARD = frozenset(
    {
        "r02",
        "r03",
        "r04",
        "r12",
        "r13",
        "r14",
        "r15",
        "r16",
        "r20",
        "r05",
        "r07",
        "r08",
        "r10",
        "r29",
        "902",
        "905",
        "907",
        "909",
        "910",
        "911",
        "912",
        "914",
        "903",
        "915",
        "917",
        "918",
        "920",
        "921",
    }
)


def recommended_action(entry_type: EntryType, method: Method, code: str) -> RecommendedAction:
    """What the admin should do about an entry that failed with `code`.

    A refund has no payment method to change (domain/entries.py): short of funds, the merchant
    account must be funded; after an outage, it can be retried; anything else needs reading.
    For a payment, insufficient funds on a card may clear within days, while a bank account is
    refilled when its holder is paid.
    """
    folded = code.strip().casefold()
    if entry_type is EntryType.CREDIT_CARD_REFUND:
        return _for_refund(folded)
    bank = method is Method.ECHECK
    if folded in _INSUFFICIENT_FUNDS or (bank and folded in _BANK_NO_FUNDS):
        return RecommendedAction.WAIT_FOR_PAYDAY if bank else RecommendedAction.RETRY_LATER
    if folded in _HARD or (bank and folded in _BANK_HARD):
        return RecommendedAction.CHANGE_PAYMENT_METHOD
    if folded in _SOFT:
        return RecommendedAction.RETRY_LATER
    return RecommendedAction.REVIEW


def _for_refund(folded: str) -> RecommendedAction:
    if folded in _MERCHANT_BALANCE_LOW:
        return RecommendedAction.FUND_MERCHANT_ACCOUNT
    if folded in _TRANSIENT:
        return RecommendedAction.RETRY_LATER
    return RecommendedAction.REVIEW
