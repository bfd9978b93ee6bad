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

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from payment_action_center.domain.entries import EntryType, Failure, Method, Network


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


# --- decline classes: may the same payment method be tried again, and when ---------------------


class DeclineClass(StrEnum):
    """What a failure allows, by the rules of the network or the bank that refused it.

    `never_retry`: a rule forbids another attempt with these details (and charges the merchant
    for one); `new_payment_method`: the card or account will not pay again; `fix_details`: the
    details sent were wrong or out of date; `retry_later`: the same method may pay later.
    """

    RETRY_LATER = "retry_later"
    FIX_DETAILS = "fix_details"
    NEW_PAYMENT_METHOD = "new_payment_method"
    NEVER_RETRY = "never_retry"


# From the mildest to the strictest: when two rules match one failure, the stricter one holds.
_SEVERITY = (
    DeclineClass.RETRY_LATER,
    DeclineClass.FIX_DETAILS,
    DeclineClass.NEW_PAYMENT_METHOD,
    DeclineClass.NEVER_RETRY,
)


@dataclass(frozen=True)
class Rule:
    """One line of a table below: the class it gives, the rule in words (shown to admins and
    in the API's refusals), and how long to wait before another attempt, if the rule says."""

    decline_class: DeclineClass
    reason: str
    retry_after: timedelta | None = None


def _table(codes: str, rule: Rule) -> dict[str, Rule]:
    return dict.fromkeys(codes.casefold().split(), rule)


# ACH return codes (Nacha Operating Rules, Subsection 2.12.4 "Reinitiation of Returned Entries"
# and Appendix Four): R01/R09 may be presented again, at most twice within 180 days of the
# original entry; R02/R03/R04 (and R12 an account moved, R13 a routing number) only with corrected
# account details; R05/R07/R10/R11/R29/R51 (and R08, a stop payment) never without a new
# authorization from the payer.
_ACH = (
    _table(
        "R01 R09",
        Rule(
            DeclineClass.RETRY_LATER,
            "ACH return for insufficient or uncollected funds: it may be presented again twice "
            "at most, within 180 days of the original debit",
        ),
    )
    | _table(
        "R02 R03 R04 R12 R13",
        Rule(
            DeclineClass.FIX_DETAILS,
            "ACH return for a closed, unknown, invalid or moved account, or an invalid routing "
            "number: it may be presented again only with new account details",
        ),
    )
    | _table(
        "R05 R07 R08 R10 R11 R29 R51",
        Rule(
            DeclineClass.NEVER_RETRY,
            "ACH return for an unauthorized, revoked or stopped debit: it may not be presented "
            "again without a new authorization from the payer",
        ),
    )
    | _table(
        "R14 R15 R16 R20",
        Rule(
            DeclineClass.NEW_PAYMENT_METHOD,
            "ACH return for an account that can no longer be debited (frozen, not a "
            "transaction account, or its holder deceased)",
        ),
    )
)

# Canadian pre-authorized debit return codes (Payments Canada Rule H1 and its return reason
# codes): 901 (NSF) and 908 (funds not cleared) may be retried after contacting the payer; the
# account is gone after 902, 905, 907, 909, 910, 911; the agreement after 903, 915, 916, 917,
# 919, 920; 912 (invalid account number), 914 (wrong payer name) and 918/921 (no
# pre-notification) need the details or the notice fixed first.
_PAD = (
    _table(
        "901 908",
        Rule(
            DeclineClass.RETRY_LATER,
            "pre-authorized debit returned for insufficient or uncleared funds: it may be "
            "retried after contacting the payer",
        ),
    )
    | _table(
        "902 905 907 909 910 911",
        Rule(
            DeclineClass.NEW_PAYMENT_METHOD,
            "pre-authorized debit returned because the account is closed, unknown, frozen or "
            "cannot be debited",
        ),
    )
    | _table(
        "903 915 916 917 919 920",
        Rule(
            DeclineClass.NEVER_RETRY,
            "pre-authorized debit refused or its agreement revoked by the payer: it may not be "
            "presented again without a new agreement",
        ),
    )
    | _table(
        "912 914 918 921",
        Rule(
            DeclineClass.FIX_DETAILS,
            "pre-authorized debit returned for a wrong account number or payer name, or a "
            "missing pre-notification",
        ),
    )
)

# Visa's decline categories (Visa Core Rules and Visa Product and Service Rules, "Transaction
# reattempt", since April 2021): category 1, the issuer will never approve (no reattempt,
# a fee for each); category 2, it cannot approve now (at most 15 reattempts in 30 days);
# category 3, data quality (reattempt only with corrected data). Other codes (05 "do not honor",
# category 4) count toward the 15 like category 2.
_VISA = (
    _table(
        "04 07 12 14 15 41 43 46 57 R0 R1 R3",
        Rule(
            DeclineClass.NEVER_RETRY,
            "Visa category 1 decline: the issuer will never approve this card, and Visa charges "
            "for each reattempt",
        ),
    )
    | _table(
        "03 19 39 51 52 53 59 61 62 65 75 78 86 91 93 96 N3 N4",
        Rule(
            DeclineClass.RETRY_LATER,
            "Visa category 2 decline: the issuer cannot approve now; at most 15 reattempts in "
            "30 days",
        ),
    )
    | _table(
        "54 55 6P 82 N7 1A",
        Rule(
            DeclineClass.FIX_DETAILS,
            "Visa category 3 decline: the card's details were wrong or out of date; a "
            "reattempt needs corrected details",
        ),
    )
)

# Mastercard Merchant Advice Codes (Mastercard Transaction Processing Rules, "Merchant Advice
# Codes", and its Transaction Processing Excellence program): 03 and 21 forbid another attempt
# (a fee for each); 24 to 30 give the delay before one; beyond 35 attempts in 30 days a fee too.
_MASTERCARD = {
    "01": Rule(
        DeclineClass.FIX_DETAILS,
        "Mastercard advice 01: new account information is available for this card",
    ),
    "02": Rule(
        DeclineClass.RETRY_LATER, "Mastercard advice 02: cannot approve now, try again later"
    ),
    "03": Rule(
        DeclineClass.NEVER_RETRY,
        "Mastercard advice 03: do not try again, and Mastercard charges for each reattempt",
    ),
    "04": Rule(
        DeclineClass.FIX_DETAILS,
        "Mastercard advice 04: the token's requirements were not met for this transaction",
    ),
    "21": Rule(
        DeclineClass.NEVER_RETRY,
        "Mastercard advice 21: the card holder cancelled this recurring payment; do not try again",
    ),
    "40": Rule(
        DeclineClass.NEW_PAYMENT_METHOD,
        "Mastercard advice 40: a non-reloadable prepaid card cannot pay again",
    ),
    "41": Rule(
        DeclineClass.NEW_PAYMENT_METHOD,
        "Mastercard advice 41: a single-use virtual card cannot pay again",
    ),
} | {
    code: Rule(
        DeclineClass.RETRY_LATER,
        f"Mastercard advice {code}: retry after {words}",
        delay,
    )
    for code, words, delay in (
        ("24", "1 hour", timedelta(hours=1)),
        ("25", "24 hours", timedelta(hours=24)),
        ("26", "2 days", timedelta(days=2)),
        ("27", "4 days", timedelta(days=4)),
        ("28", "6 days", timedelta(days=6)),
        ("29", "8 days", timedelta(days=8)),
        ("30", "10 days", timedelta(days=10)),
    )
}

# The processor's own words for the same split (the word tables above, as Stripe's decline codes
# document them): a card reported lost, stolen or fraudulent, or a debit the payer revoked, is
# never tried again; wrong or outdated details are fixed first; an account or card that cannot
# pay needs another method; the rest may pay later.
_NEVER_WORDS = frozenset(
    {
        "lost_card",
        "stolen_card",
        "pickup_card",
        "fraudulent",
        "merchant_blacklist",
        "security_violation",
        "do_not_try_again",
        "revocation_of_authorization",
        "revocation_of_all_authorizations",
        "stop_payment_order",
        "debit_not_authorized",
    }
)
_FIX_WORDS = frozenset(
    {
        "expired_card",
        "incorrect_number",
        "invalid_number",
        "incorrect_cvc",
        "invalid_cvc",
        "incorrect_zip",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "new_account_information_available",
        "authentication_required",
        "incorrect_account_holder_name",
        "invalid_account_number",
    }
)
_WORDS = (
    dict.fromkeys(
        _NEVER_WORDS,
        Rule(
            DeclineClass.NEVER_RETRY,
            "the card was reported lost, stolen or fraudulent, or the payer revoked the "
            "payment: it may not be tried again",
        ),
    )
    | dict.fromkeys(
        _FIX_WORDS,
        Rule(
            DeclineClass.FIX_DETAILS,
            "the payment details were wrong or out of date: they must be corrected first",
        ),
    )
    | dict.fromkeys(
        _HARD - _NEVER_WORDS - _FIX_WORDS,
        Rule(
            DeclineClass.NEW_PAYMENT_METHOD,
            "this card or account cannot make the payment: another payment method is needed",
        ),
    )
    | dict.fromkeys(
        _SOFT | _INSUFFICIENT_FUNDS,
        Rule(DeclineClass.RETRY_LATER, "a soft decline: the same method may pay later"),
    )
)
_UNKNOWN = Rule(
    DeclineClass.RETRY_LATER,
    "no rule for this failure's code: retrying is allowed within the networks' limits",
)
_REFUND = Rule(
    DeclineClass.RETRY_LATER,
    "a refund is sent again to the same payment once the cause is fixed",
)


@dataclass(frozen=True)
class Guidance:
    """What a failure allows and asks for: its class, the rule that gave it, the wait that rule
    asks for before another attempt, and what the admin should do."""

    decline_class: DeclineClass
    reason: str
    retry_after: timedelta | None
    recommended_action: RecommendedAction


def guidance(entry_type: EntryType, method: Method, failure: Failure) -> Guidance:
    """The strictest rule that matches the failure: the bank's return code (e-checks), the
    network's advice and response codes (cards), the processor's code. A refund is not a
    reattempt of a declined charge: no network rule applies to it."""
    if entry_type is EntryType.CREDIT_CARD_REFUND:
        return _guided(_REFUND, recommended_action(entry_type, method, failure.code))
    rules = [rule for rule in _matching(method, failure) if rule is not None]
    if not rules:
        return _guided(_UNKNOWN, RecommendedAction.REVIEW)
    strictest = max(rules, key=lambda r: _SEVERITY.index(r.decline_class))
    if strictest.decline_class is not DeclineClass.RETRY_LATER:
        # A wait means nothing where another attempt is forbidden or needs other details.
        return _guided(strictest, RecommendedAction.CHANGE_PAYMENT_METHOD)
    delays = [r.retry_after for r in rules if r.retry_after is not None]
    rule = Rule(strictest.decline_class, strictest.reason, max(delays, default=None))
    # Of what may pay later, the code's own advice (wait for payday on a debit short of funds);
    # a code only the network's rules know is a retry later, not a review.
    action = recommended_action(entry_type, method, failure.return_code or failure.code)
    if action is RecommendedAction.REVIEW:
        action = RecommendedAction.RETRY_LATER
    return _guided(rule, action)


def _matching(method: Method, failure: Failure) -> list[Rule | None]:
    code = failure.code.strip().casefold()
    if method is Method.ECHECK:
        banks = _ACH | _PAD
        return_code = (failure.return_code or "").strip().casefold()
        return [banks.get(return_code), banks.get(code), _WORDS.get(code)]
    network_code = (failure.network_decline_code or "").strip().casefold()
    advice = (failure.advice_code or "").strip()
    mastercard = failure.network in (Network.MASTERCARD, None)
    return [
        _MASTERCARD.get(advice) if mastercard else None,
        _VISA.get(network_code) if failure.network is Network.VISA else None,
        _WORDS.get(code),
    ]


def _guided(rule: Rule, action: RecommendedAction) -> Guidance:
    return Guidance(rule.decline_class, rule.reason, rule.retry_after, action)
