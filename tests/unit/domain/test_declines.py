"""Decline guidance (domain/declines.py): what a billing admin should do, from the failure's code,
the entry's type and its method."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_action_center.domain import declines
from payment_action_center.domain.declines import RecommendedAction, recommended_action
from payment_action_center.domain.entries import EntryType, Method

CHANGE = RecommendedAction.CHANGE_PAYMENT_METHOD
RETRY = RecommendedAction.RETRY_LATER
PAYDAY = RecommendedAction.WAIT_FOR_PAYDAY
FUND = RecommendedAction.FUND_MERCHANT_ACCOUNT
REVIEW = RecommendedAction.REVIEW

# Every (type, method) pair the Action Center records (domain/entries.py `_TRACKED`).
CARD_PAYMENTS = [
    (EntryType.INSTALLMENT, Method.CREDIT_CARD),
    (EntryType.SUBSCRIPTION, Method.CREDIT_CARD),
]
BANK_PAYMENTS = [
    (EntryType.ECHECK_PAYMENT, Method.ECHECK),
    (EntryType.INSTALLMENT, Method.ECHECK),
    (EntryType.SUBSCRIPTION, Method.ECHECK),
]
PAYMENTS = CARD_PAYMENTS + BANK_PAYMENTS
REFUND = (EntryType.CREDIT_CARD_REFUND, Method.CREDIT_CARD)


def test_the_values_are_the_contract_s() -> None:
    assert [action.value for action in RecommendedAction] == [
        "change_payment_method",
        "retry_later",
        "wait_for_payday",
        "fund_merchant_account",
        "review",
    ]


@pytest.mark.parametrize(
    "code",
    [
        "expired_card",
        "lost_card",
        "stolen_card",
        "pickup_card",
        "fraudulent",
        "incorrect_number",
        "invalid_account",
        "account_closed",
        "no_account",
        "debit_not_authorized",
        "authentication_required",
    ],
)
@pytest.mark.parametrize(("entry_type", "method"), PAYMENTS)
def test_a_hard_decline_asks_for_another_payment_method(
    entry_type: EntryType, method: Method, code: str
) -> None:
    assert recommended_action(entry_type, method, code) is CHANGE


@pytest.mark.parametrize(
    "code",
    [
        "card_declined",
        "generic_decline",
        "do_not_honor",
        "processing_error",
        "try_again_later",
        "issuer_not_available",
        "reenter_transaction",
        "approve_with_id",
    ],
)
@pytest.mark.parametrize(("entry_type", "method"), PAYMENTS)
def test_a_soft_decline_asks_for_a_retry_later(
    entry_type: EntryType, method: Method, code: str
) -> None:
    assert recommended_action(entry_type, method, code) is RETRY


@pytest.mark.parametrize("code", ["insufficient_funds", "nsf"])
def test_insufficient_funds_depends_on_the_entry(code: str) -> None:
    for entry_type, method in CARD_PAYMENTS:
        assert recommended_action(entry_type, method, code) is RETRY
    for entry_type, method in BANK_PAYMENTS:
        assert recommended_action(entry_type, method, code) is PAYDAY
    assert recommended_action(*REFUND, code) is FUND


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("R01", PAYDAY),  # insufficient funds
        ("R09", PAYDAY),  # uncollected funds
        ("901", PAYDAY),  # PAD: NSF
        ("R02", CHANGE),  # account closed
        ("R03", CHANGE),  # no account
        ("R10", CHANGE),  # not authorized: no new debit without a new authorization
        ("R29", CHANGE),
        ("905", CHANGE),  # PAD: account closed
        ("R11", REVIEW),  # not as authorized: read what was wrong before sending again
        ("R24", REVIEW),  # duplicate entry
    ],
)
@pytest.mark.parametrize(("entry_type", "method"), BANK_PAYMENTS)
def test_bank_return_codes_on_an_e_check(
    entry_type: EntryType, method: Method, code: str, action: RecommendedAction
) -> None:
    assert recommended_action(entry_type, method, code) is action


@pytest.mark.parametrize("code", ["R01", "R02", "901", "905"])
@pytest.mark.parametrize(("entry_type", "method"), CARD_PAYMENTS)
def test_bank_return_codes_mean_nothing_on_a_card(
    entry_type: EntryType, method: Method, code: str
) -> None:
    assert recommended_action(entry_type, method, code) is REVIEW


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("insufficient_funds", FUND),
        ("balance_insufficient", FUND),
        ("processing_error", RETRY),
        ("try_again_later", RETRY),
        # A refund has no payment method to change; a refusal needs reading, not a new card.
        ("expired_card", REVIEW),
        ("lost_or_stolen_card", REVIEW),
        ("card_declined", REVIEW),
        ("do_not_honor", REVIEW),
        ("card_velocity_exceeded", REVIEW),
        ("unknown", REVIEW),
    ],
)
def test_a_failed_refund(code: str, action: RecommendedAction) -> None:
    assert recommended_action(*REFUND, code) is action


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("INSUFFICIENT_FUNDS", RETRY),
        ("Expired_Card", CHANGE),
        ("  do_not_honor\n", RETRY),
        ("r01", PAYDAY),
        ("R01", PAYDAY),
    ],
)
def test_codes_are_compared_case_insensitively_once_trimmed(
    code: str, action: RecommendedAction
) -> None:
    method = Method.ECHECK if code.strip().lower() == "r01" else Method.CREDIT_CARD
    assert recommended_action(EntryType.INSTALLMENT, method, code) is action


@pytest.mark.parametrize("code", ["", "payment_failed", "canceled", "duplicate_transaction", "51"])
@pytest.mark.parametrize(("entry_type", "method"), [*PAYMENTS, REFUND])
def test_a_code_with_no_rule_asks_for_a_review(
    entry_type: EntryType, method: Method, code: str
) -> None:
    assert recommended_action(entry_type, method, code) is REVIEW


def test_no_code_is_in_two_classes() -> None:
    classes = [
        declines._INSUFFICIENT_FUNDS,
        declines._HARD,
        declines._SOFT,
        declines._BANK_NO_FUNDS,
        declines._BANK_HARD,
    ]
    for i, first in enumerate(classes):
        for second in classes[i + 1 :]:
            assert first.isdisjoint(second)
    assert declines._TRANSIENT <= declines._SOFT


def test_the_tables_hold_folded_codes_only() -> None:
    """A code written with a capital in a table would never match: codes are folded first."""
    for table in (
        declines._MERCHANT_BALANCE_LOW,
        declines._HARD,
        declines._SOFT,
        declines._BANK_NO_FUNDS,
        declines._BANK_HARD,
    ):
        assert all(code == code.strip().casefold() for code in table)


@given(
    entry_type=st.sampled_from(EntryType),
    method=st.sampled_from(Method),
    code=st.text(),
)
def test_any_code_gets_a_recommendation(entry_type: EntryType, method: Method, code: str) -> None:
    action = recommended_action(entry_type, method, code)
    assert isinstance(action, RecommendedAction)
    assert recommended_action(entry_type, method, code.strip().casefold()) is action


KNOWN = sorted(
    declines._MERCHANT_BALANCE_LOW
    | declines._HARD
    | declines._SOFT
    | declines._BANK_NO_FUNDS
    | declines._BANK_HARD
)


@given(
    entry_type=st.sampled_from(EntryType),
    method=st.sampled_from(Method),
    code=st.sampled_from(KNOWN),
    capitals=st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_a_known_code_in_any_case_gets_the_same_recommendation(
    entry_type: EntryType, method: Method, code: str, capitals: list[bool]
) -> None:
    mixed = "".join(c.upper() if up else c for c, up in zip(code, capitals, strict=False))
    assert recommended_action(entry_type, method, mixed) is recommended_action(
        entry_type, method, code
    )
