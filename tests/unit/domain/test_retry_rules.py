"""The retry guard's rules (domain/retry_rules.py), on entries as the webhook records them."""

from dataclasses import replace
from datetime import timedelta

import pytest

from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import (
    Entry,
    EntryType,
    Failure,
    Method,
    Network,
    PaymentMethod,
)
from payment_action_center.domain.retry_rules import (
    CardReattempts,
    RetryCaps,
    card_network,
    network_of,
    reattempted_card,
    retry_refusal,
)
from tests.shared import factories

NOW = "2026-11-25T12:00:00.000000000Z"
CAPS = RetryCaps()


def card(failure: Failure) -> Entry:
    return replace(factories.entry(), failure=failure)


def debit(return_code: str, **changes: object) -> Entry:
    made = factories.entry(
        data__method="echeck",
        data__failure={"code": "debit_returned", "message": "", "return_code": return_code},
    )
    return replace(made, **changes)


@pytest.mark.parametrize(
    ("network", "cap"), [(Network.VISA, 15), (Network.MASTERCARD, 35), (None, 15)]
)
def test_a_card_is_retried_at_most_its_network_s_cap_in_30_days(
    network: Network | None, cap: int
) -> None:
    entry = card(Failure("card_declined", "", network=network))
    # One reattempt an hour, the oldest `cap` hours ago.
    instants = tuple(timestamps.plus(NOW, -timedelta(hours=cap - n)) for n in range(cap))
    assert retry_refusal(entry, NOW, CAPS, card=CardReattempts(network, instants[1:])) is None
    refused = retry_refusal(entry, NOW, CAPS, card=CardReattempts(network, instants))
    assert refused is not None and f"({cap})" in refused.reason
    # Allowed again when the oldest leaves the 30 days.
    assert refused.allowed_at == timestamps.plus(instants[0], timedelta(days=30))


def test_a_changed_method_lifts_the_failure_s_rules_but_not_the_card_cap() -> None:
    entry = card(Failure("stolen_card", ""))
    assert retry_refusal(entry, NOW, CAPS) is not None
    assert retry_refusal(entry, NOW, CAPS, method_changed=True) is None
    capped = CardReattempts(None, (NOW,) * 15)
    assert retry_refusal(entry, NOW, CAPS, method_changed=True, card=capped) is not None


def test_the_retry_after_delay_counts_from_the_failure() -> None:
    failed_at = timestamps.plus(NOW, -timedelta(hours=23))
    entry = replace(
        card(Failure("card_declined", "", network=Network.MASTERCARD, advice_code="25")),
        failed_at=failed_at,
    )
    refused = retry_refusal(entry, NOW, CAPS)
    assert refused is not None
    assert refused.allowed_at == timestamps.plus(failed_at, timedelta(hours=24))
    assert retry_refusal(entry, timestamps.plus(NOW, timedelta(hours=1)), CAPS) is None


def test_a_debit_cap_and_window_are_configuration() -> None:
    twice = debit("R01", attempts=3)
    assert retry_refusal(twice, NOW, CAPS) is not None
    assert retry_refusal(twice, NOW, RetryCaps(debit_representments=3)) is None
    old = debit("R01", received_at="2026-05-01T00:00:00.000000000Z")
    assert retry_refusal(old, NOW, CAPS) is not None
    assert retry_refusal(old, NOW, RetryCaps(debit_window=timedelta(days=365))) is None


def test_a_refund_is_no_reattempt_of_a_decline() -> None:
    refund = replace(
        factories.entry(),
        type=EntryType.CREDIT_CARD_REFUND,
        method=Method.CREDIT_CARD,
        failure=Failure("lost_card", "", network=Network.VISA, network_decline_code="43"),
    )
    assert retry_refusal(refund, NOW, CAPS, card=CardReattempts(None, (NOW,) * 99)) is None


def test_a_card_s_network_is_the_decline_s_or_its_brand_s() -> None:
    failed = card(Failure("card_declined", "", network=Network.MASTERCARD))
    assert card_network(failed, failed.payment_method) is Network.MASTERCARD
    same_card_again = replace(failed.payment_method, token="tok_again")
    assert card_network(failed, same_card_again) is Network.MASTERCARD
    new_card = PaymentMethod(token="tok_new", card_id="card_new", brand="Visa")
    assert card_network(failed, new_card) is Network.VISA
    assert network_of(PaymentMethod(token="t", brand="MasterCard")) is Network.MASTERCARD
    assert network_of(PaymentMethod(token="t", brand="unknown")) is None


def test_only_a_card_charge_is_a_card_reattempt() -> None:
    entry = card(Failure("card_declined", ""))
    assert reattempted_card(entry, entry.payment_method, Method.CREDIT_CARD) == (
        entry.payment_method.card_id
    )
    assert reattempted_card(entry, PaymentMethod(token="tok_only"), Method.CREDIT_CARD) == (
        "tok_only"
    )
    assert reattempted_card(entry, entry.payment_method, Method.ECHECK) is None
