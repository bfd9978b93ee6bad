"""Decline classes (domain/declines.py `guidance`): what a failure allows by the rules of the
network or the bank that refused it, table by table, every code the rules name."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_action_center.domain.declines import (
    DeclineClass,
    Guidance,
    RecommendedAction,
    guidance,
)
from payment_action_center.domain.entries import EntryType, Failure, Method, Network

LATER = DeclineClass.RETRY_LATER
FIX = DeclineClass.FIX_DETAILS
NEW = DeclineClass.NEW_PAYMENT_METHOD
NEVER = DeclineClass.NEVER_RETRY


def card(
    code: str = "card_declined",
    *,
    network: Network | None = None,
    network_decline_code: str | None = None,
    advice_code: str | None = None,
) -> Guidance:
    failure = Failure(
        code,
        "Declined.",
        network=network,
        network_decline_code=network_decline_code,
        advice_code=advice_code,
    )
    return guidance(EntryType.SUBSCRIPTION, Method.CREDIT_CARD, failure)


def debit(return_code: str, code: str = "debit_returned") -> Guidance:
    failure = Failure(code, "Returned.", return_code=return_code)
    return guidance(EntryType.INSTALLMENT, Method.ECHECK, failure)


# ----------------------------------------------------------------------------- Visa


@pytest.mark.parametrize(
    "code", ["04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"]
)
def test_a_visa_category_1_decline_is_never_retried(code: str) -> None:
    found = card(network=Network.VISA, network_decline_code=code)
    assert found.decline_class is NEVER
    assert "Visa category 1" in found.reason
    assert found.recommended_action is RecommendedAction.CHANGE_PAYMENT_METHOD


@pytest.mark.parametrize(
    "code",
    [
        "03",
        "19",
        "39",
        "51",
        "52",
        "53",
        "59",
        "61",
        "62",
        "65",
        "75",
        "78",
        "86",
        "91",
        "93",
        "96",
        "N3",
        "N4",
    ],
)
def test_a_visa_category_2_decline_may_be_retried_later(code: str) -> None:
    found = card(network=Network.VISA, network_decline_code=code)
    assert (found.decline_class, found.retry_after) == (LATER, None)
    assert "15 reattempts in 30 days" in found.reason
    assert found.recommended_action is RecommendedAction.RETRY_LATER


@pytest.mark.parametrize("code", ["54", "55", "6P", "82", "N7", "1A"])
def test_a_visa_category_3_decline_needs_corrected_details(code: str) -> None:
    assert card(network=Network.VISA, network_decline_code=code).decline_class is FIX


def test_visa_codes_are_read_only_on_a_visa_payment() -> None:
    """The same two digits mean other things on other networks: no Visa rule without Visa."""
    assert card(network=Network.MASTERCARD, network_decline_code="04").decline_class is LATER
    assert card(network_decline_code="04").decline_class is LATER


# ----------------------------------------------------------------------------- Mastercard


@pytest.mark.parametrize("advice", ["03", "21"])
def test_a_mastercard_do_not_try_again_is_never_retried(advice: str) -> None:
    found = card(network=Network.MASTERCARD, advice_code=advice)
    assert found.decline_class is NEVER
    assert f"Mastercard advice {advice}" in found.reason


@pytest.mark.parametrize(
    ("advice", "delay"),
    [
        ("24", timedelta(hours=1)),
        ("25", timedelta(hours=24)),
        ("26", timedelta(days=2)),
        ("27", timedelta(days=4)),
        ("28", timedelta(days=6)),
        ("29", timedelta(days=8)),
        ("30", timedelta(days=10)),
    ],
)
def test_a_mastercard_retry_after_gives_its_delay(advice: str, delay: timedelta) -> None:
    found = card(network=Network.MASTERCARD, advice_code=advice)
    assert (found.decline_class, found.retry_after) == (LATER, delay)


@pytest.mark.parametrize(
    ("advice", "expected"), [("01", FIX), ("02", LATER), ("04", FIX), ("40", NEW), ("41", NEW)]
)
def test_the_other_merchant_advice_codes(advice: str, expected: DeclineClass) -> None:
    assert card(network=Network.MASTERCARD, advice_code=advice).decline_class is expected


def test_an_advice_code_without_a_network_is_read_as_mastercard_s() -> None:
    """Only Mastercard sends Merchant Advice Codes: a processor that names no network still
    passes them on."""
    assert card(advice_code="03").decline_class is NEVER
    assert card(network=Network.VISA, advice_code="03").decline_class is LATER


# ----------------------------------------------------------------------------- ACH and PAD


@pytest.mark.parametrize("code", ["R01", "R09"])
def test_an_ach_return_for_funds_may_be_presented_again(code: str) -> None:
    found = debit(code)
    assert found.decline_class is LATER
    assert "twice at most, within 180 days" in found.reason
    assert found.recommended_action is RecommendedAction.WAIT_FOR_PAYDAY


@pytest.mark.parametrize("code", ["R02", "R03", "R04", "R12", "R13"])
def test_an_ach_return_for_the_account_needs_new_details(code: str) -> None:
    assert debit(code).decline_class is FIX


@pytest.mark.parametrize("code", ["R05", "R07", "R08", "R10", "R11", "R29", "R51"])
def test_an_unauthorized_ach_debit_is_never_presented_again(code: str) -> None:
    found = debit(code)
    assert found.decline_class is NEVER
    assert "new authorization" in found.reason


@pytest.mark.parametrize("code", ["R14", "R15", "R16", "R20"])
def test_an_ach_account_that_cannot_be_debited_needs_another_method(code: str) -> None:
    assert debit(code).decline_class is NEW


@pytest.mark.parametrize("code", ["901", "908"])
def test_a_pad_return_for_funds_may_be_retried_after_contacting_the_payer(code: str) -> None:
    found = debit(code)
    assert found.decline_class is LATER
    assert "after contacting the payer" in found.reason


@pytest.mark.parametrize("code", ["902", "905", "907", "909", "910", "911"])
def test_a_pad_account_that_is_gone_needs_another_method(code: str) -> None:
    assert debit(code).decline_class is NEW


@pytest.mark.parametrize("code", ["903", "915", "916", "917", "919", "920"])
def test_a_pad_agreement_refused_or_revoked_is_never_presented_again(code: str) -> None:
    assert debit(code).decline_class is NEVER


@pytest.mark.parametrize("code", ["912", "914", "918", "921"])
def test_a_pad_return_for_the_name_or_the_notice_needs_fixing(code: str) -> None:
    assert debit(code).decline_class is FIX


def test_a_return_code_in_the_failure_s_code_counts_too() -> None:
    """Processors that put the bank's code in `code` (as the contract's examples do)."""
    failure = Failure("R10", "Unauthorized.")
    assert guidance(EntryType.ECHECK_PAYMENT, Method.ECHECK, failure).decline_class is NEVER


def test_bank_return_codes_mean_nothing_on_a_card() -> None:
    assert guidance(
        EntryType.INSTALLMENT, Method.CREDIT_CARD, Failure("R10", "")
    ).decline_class is (LATER)


# ----------------------------------------------------------------------------- processor words


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("insufficient_funds", LATER),
        ("do_not_honor", LATER),
        ("card_velocity_exceeded", LATER),
        ("lost_card", NEVER),
        ("stolen_card", NEVER),
        ("fraudulent", NEVER),
        ("pickup_card", NEVER),
        ("revocation_of_authorization", NEVER),
        ("expired_card", FIX),
        ("incorrect_cvc", FIX),
        ("authentication_required", FIX),
        ("card_not_supported", NEW),
        ("account_closed", NEW),
    ],
)
def test_the_processor_s_own_codes(code: str, expected: DeclineClass) -> None:
    assert card(code).decline_class is expected


def test_an_unknown_code_may_be_retried_within_the_limits_and_asks_for_a_review() -> None:
    found = card("something_new")
    assert (found.decline_class, found.recommended_action) == (LATER, RecommendedAction.REVIEW)


def test_a_refund_follows_no_network_rule() -> None:
    failure = Failure("insufficient_funds", "", network=Network.VISA, network_decline_code="04")
    found = guidance(EntryType.CREDIT_CARD_REFUND, Method.CREDIT_CARD, failure)
    assert found.decline_class is LATER
    assert found.recommended_action is RecommendedAction.FUND_MERCHANT_ACCOUNT


# ----------------------------------------------------------------------------- combined


def test_the_strictest_rule_holds_when_several_match() -> None:
    """A soft word from the processor does not soften the network's "never"."""
    found = card("insufficient_funds", network=Network.VISA, network_decline_code="43")
    assert found.decline_class is NEVER
    assert card("lost_card", network=Network.MASTERCARD, advice_code="25").decline_class is NEVER


def test_the_longest_delay_holds() -> None:
    found = card("insufficient_funds", network=Network.MASTERCARD, advice_code="30")
    assert found.retry_after == timedelta(days=10)


CODES = st.sampled_from(
    ["insufficient_funds", "lost_card", "expired_card", "card_declined", "x", "R01", "901"]
)
NETWORKS = st.sampled_from([None, *Network])
SHORT = st.none() | st.sampled_from(["03", "04", "05", "21", "25", "51", "N7", "R0"])


@given(CODES, NETWORKS, SHORT, SHORT)
def test_a_never_retry_is_never_recommended_a_retry(
    code: str, network: Network | None, decline: str | None, advice: str | None
) -> None:
    found = card(code, network=network, network_decline_code=decline, advice_code=advice)
    if found.decline_class is not LATER:
        assert found.recommended_action is RecommendedAction.CHANGE_PAYMENT_METHOD
        assert found.retry_after is None or found.decline_class is not NEVER
    assert found.reason
