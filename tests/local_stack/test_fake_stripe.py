"""The fake Stripe API's behaviour for the local stack (local/fake_stripe.py): the sandbox's
tokens with the sandbox's outcomes, Stripe's idempotency rule, settling a bank debit, the real-time
clock, the signed events, seen through the real Stripe adapter and SDK on loopback."""

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe

from local.fake_stripe import API_KEY, FakeStripe, running, stripe_signature
from payment_action_center.adapters.processors.stripe_processor import StripeProcessor
from payment_action_center.domain.entries import Failure, Method, Network
from payment_action_center.ports import (
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    Operation,
    ProcessorUnavailable,
)

ACCOUNT = "acct_1OrgLocal"


@pytest.fixture
def fake(loopback_only: None) -> Iterator[FakeStripe]:
    with running(FakeStripe(search_lag=0.0)) as served:
        yield served


def processor(fake: FakeStripe) -> StripeProcessor:
    return StripeProcessor(lambda: API_KEY, api_base=fake.url, max_network_retries=1)


def request(token: str, *, key: str = "ent_1:retry:1", amount: int = 12_50) -> ChargeRequest:
    return ChargeRequest(
        operation=Operation.CHARGE,
        transaction_id="ent_1",
        token=token,
        method=Method.ECHECK if token == "tok_echeck_pending" else Method.CREDIT_CARD,
        amount=amount,
        currency="CAD",
        idempotency_key=key,
        metadata={"organization_id": "org_1", "kind": "installment"},
        processor_account=ACCOUNT,
    )


@pytest.mark.parametrize("token", ["tok_success", "tok_visa", "tok_anything_else"])
def test_a_sandbox_token_it_does_not_list_succeeds_like_the_visa(
    fake: FakeStripe, token: str
) -> None:
    result = processor(fake).charge(request(token))

    [intent] = fake.created("payment_intent")
    assert result == ChargeResult(ChargeOutcome.SUCCEEDED, payment_id=intent["id"])
    assert (intent["payment_method"], intent["_account"]) == (token, ACCOUNT)


@pytest.mark.parametrize(
    ("token", "failure"),
    [
        (
            "tok_insufficient_funds",
            Failure(
                "insufficient_funds", "Your card has insufficient funds.", network=Network.VISA
            ),
        ),
        (
            "tok_card_declined",
            Failure("generic_decline", "Your card was declined.", network=Network.VISA),
        ),
    ],
)
def test_the_sandbox_decline_tokens_are_declined(
    fake: FakeStripe, token: str, failure: Failure
) -> None:
    result = processor(fake).charge(request(token))

    [intent] = fake.created("payment_intent")
    assert result == ChargeResult(ChargeOutcome.FAILED, payment_id=intent["id"], failure=failure)
    assert intent["status"] == "requires_payment_method"


def test_the_echeck_token_is_a_bank_debit_left_processing(fake: FakeStripe) -> None:
    result = processor(fake).charge(request("tok_echeck_pending"))

    [intent] = fake.created("payment_intent")
    assert result == ChargeResult(ChargeOutcome.PENDING, payment_id=intent["id"])
    assert processor(fake).status(request("tok_echeck_pending")) == result


def test_the_timeout_token_never_gets_an_answer_and_creates_nothing(fake: FakeStripe) -> None:
    with pytest.raises(ProcessorUnavailable):
        processor(fake).charge(request("tok_timeout"))
    # The status of that key cannot be told either: the watchdog flags it, as with the sandbox.
    with pytest.raises(ProcessorUnavailable):
        processor(fake).status(request("tok_timeout"))

    assert fake.created("payment_intent") == []
    assert [c.status for c in fake.calls] == [500, 500, 500, 500]  # each try and its SDK retry


def test_the_same_key_with_other_parameters_is_an_idempotency_error(fake: FakeStripe) -> None:
    processor(fake).charge(request("tok_success", amount=12_50))

    with pytest.raises(ProcessorUnavailable) as refused:
        processor(fake).charge(request("tok_success", amount=99_00))

    # The SDK reads the fake's answer as Stripe's (the adapter then keeps it unknown).
    cause = refused.value.__cause__
    assert isinstance(cause, stripe.IdempotencyError)
    assert "same parameters" in str(cause.user_message)

    [intent] = fake.created("payment_intent")
    assert intent["amount"] == 12_50
    assert [c.status for c in fake.calls] == [200, 400]


def test_ten_concurrent_sends_of_one_key_make_one_payment_intent(fake: FakeStripe) -> None:
    with ThreadPoolExecutor(10) as pool:
        results = list(
            pool.map(lambda _: processor(fake).charge(request("tok_success")), range(10))
        )

    [intent] = fake.created("payment_intent")
    assert {r.payment_id for r in results} == {intent["id"]}


def test_settling_a_bank_debit_succeeds_it_and_gives_the_connect_event(fake: FakeStripe) -> None:
    sent = processor(fake).charge(request("tok_echeck_pending"))

    event = fake.settle("ent_1", "succeeded")

    assert event is not None
    assert (event["type"], event["account"], event["object"]) == (
        "payment_intent.succeeded",
        ACCOUNT,
        "event",
    )
    settled = event["data"]["object"]
    assert (settled["id"], settled["status"]) == (sent.payment_id, "succeeded")
    assert settled["metadata"]["retry_of"] == "ent_1"
    assert "_account" not in settled
    found = processor(fake).status(request("tok_echeck_pending"))
    assert found == ChargeResult(ChargeOutcome.SUCCEEDED, payment_id=sent.payment_id)
    assert fake.settle("ent_1", "succeeded") is None  # nothing processing any more


def test_a_returned_bank_debit_fails_with_its_reason(fake: FakeStripe) -> None:
    sent = processor(fake).charge(request("tok_echeck_pending"))
    assert sent.payment_id is not None

    event = fake.settle(sent.payment_id, "failed")

    assert event is not None and event["type"] == "payment_intent.payment_failed"
    returned = event["data"]["object"]
    assert (returned["id"], returned["status"]) == (sent.payment_id, "requires_payment_method")
    assert returned["last_payment_error"]["code"] == "insufficient_funds"
    # As Stripe's error objects, it leaves out what does not apply (no decline_code: no card).
    assert "decline_code" not in returned["last_payment_error"]


def test_a_card_payment_is_never_settled(fake: FakeStripe) -> None:
    processor(fake).charge(request("tok_success"))

    assert fake.settle("ent_1", "failed") is None
    with pytest.raises(ValueError, match="succeeded or failed"):
        fake.settle("ent_1", "returned")


def test_in_real_time_search_finds_an_object_once_the_lag_has_passed(
    loopback_only: None,
) -> None:
    with running(FakeStripe(search_lag=0.3, real_time=True)) as fake:
        processor(fake).charge(request("tok_success"))
        assert processor(fake).status(request("tok_success")) is None
        time.sleep(0.4)
        found = processor(fake).status(request("tok_success"))
    assert found is not None and found.outcome is ChargeOutcome.SUCCEEDED
    [intent] = fake.created("payment_intent")
    assert abs(intent["created"] - time.time()) < 5


def test_the_signature_is_the_one_stripe_checks() -> None:
    payload = json.dumps({"id": "evt_1", "object": "event"})
    at = int(time.time())

    header = stripe_signature("whsec_test", payload.encode(), at)

    assert stripe.WebhookSignature.verify_header(payload, header, "whsec_test", tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other", tolerance=300)


def test_the_snapshot_lists_calls_and_objects_as_json(fake: FakeStripe) -> None:
    processor(fake).charge(request("tok_success"))

    snapshot = json.loads(json.dumps(fake.snapshot()))

    [call] = snapshot["calls"]
    assert (call["method"], call["path"], call["account"], call["status"]) == (
        "POST",
        "/v1/payment_intents",
        ACCOUNT,
        200,
    )
    assert call["idempotency_key"] == "ent_1:retry:1"
    assert call["params"]["payment_method"] == "tok_success"
    [created] = snapshot["objects"]
    assert (created["object"], created["account"]) == ("payment_intent", ACCOUNT)


def test_a_repeated_key_replays_the_first_response_as_it_was(fake: FakeStripe) -> None:
    sent = processor(fake).charge(request("tok_echeck_pending"))
    fake.settle("ent_1", "succeeded")

    again = processor(fake).charge(request("tok_echeck_pending"))

    # Stripe's replay is the response it gave, not the PaymentIntent as it is now.
    assert again == sent == ChargeResult(ChargeOutcome.PENDING, payment_id=sent.payment_id)
    [intent] = fake.created("payment_intent")
    assert intent["status"] == "succeeded"
