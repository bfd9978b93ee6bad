"""The Stripe processor's contract (adapters/processors/stripe_processor.py) against a local fake of
the Stripe API (local/fake_stripe.py): what each Stripe answer becomes in the port's terms,
and that one idempotency key never makes two PaymentIntents or refunds, whatever fails between."""

from collections.abc import Iterator
from typing import Any

import pytest

from local.fake_stripe import API_KEY, FakeStripe, running
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.adapters.processors.stripe_processor import (
    NoStripeAccount,
    StripeAccessRefused,
    StripeProcessor,
    StripeRequestRefused,
    stripe_metadata,
)
from payment_action_center.app import actions, retry_worker
from payment_action_center.domain.entries import Caller, Failure, Method, Network
from payment_action_center.ports import (
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    Operation,
    ProcessorRefused,
    ProcessorUnavailable,
)
from tests.shared import factories
from tests.shared.fakes import (
    InMemoryBillingStore,
    InMemoryEntryStore,
    RecordingPublisher,
    RecordingQueue,
)

ACCOUNTS = {"org_1": "acct_1OrgOne"}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running(FakeStripe(search_lag=60.0)) as served:
        yield served


def processor(
    fake: FakeStripe, api_key: str = API_KEY, timeout_seconds: float = 10.0
) -> StripeProcessor:
    # One SDK retry (production has 2): enough to see it, half the backoff to wait for.
    return StripeProcessor(
        lambda: api_key,
        api_base=fake.url,
        max_network_retries=1,
        timeout_seconds=timeout_seconds,
    )


def request(
    token: str = "pm_card_visa",
    *,
    key: str = "ent_1:retry:1",
    operation: Operation = Operation.CHARGE,
    organization_id: str = "org_1",
    **metadata: Any,
) -> ChargeRequest:
    return ChargeRequest(
        operation=operation,
        transaction_id="ent_1",
        token=token,
        method=Method.ECHECK if token.startswith("pm_usBank") else Method.CREDIT_CARD,
        amount=12_50,
        currency="CAD",
        idempotency_key=key,
        processor_account=ACCOUNTS.get(organization_id),
        metadata={
            "organization_id": organization_id,
            "kind": "installment",
            "account_holder": {"id": "ah_1", "name": "Ada", "email": "ada@example.com"},
            "scheduled_payment_id": None,
            "invoice_items": [{"invoice_id": "inv_1", "item_id": "it_1", "amount": 12_50}],
            **metadata,
        },
    )


def paid(fake: FakeStripe, token: str = "pm_card_visa") -> str:
    """A payment made earlier (what a refund refunds), under its own key."""
    result = processor(fake).charge(request(token, key="ent_0:payment"))
    assert result.payment_id is not None
    return result.payment_id


def test_success_charges_the_connected_account_once_with_the_key_in_metadata(
    fake: FakeStripe,
) -> None:
    result = processor(fake).charge(request())

    [intent] = fake.created("payment_intent")
    assert result == ChargeResult(ChargeOutcome.SUCCEEDED, payment_id=intent["id"])
    assert intent["_account"] == "acct_1OrgOne"
    assert (intent["amount"], intent["currency"]) == (12_50, "cad")
    assert intent["metadata"] == {
        "idempotency_key": "ent_1:retry:1",
        "transaction_id": "ent_1",
        "organization_id": "org_1",
        "retry_of": "ent_1",
        "kind": "installment",
        "account_holder_id": "ah_1",
        "account_holder_name": "Ada",
        "account_holder_email": "ada@example.com",
        "invoice_items": '[{"amount":1250,"invoice_id":"inv_1","item_id":"it_1"}]',
    }
    assert intent["customer"] is None
    assert [(c.method, c.idempotency_key) for c in fake.calls] == [("POST", "ent_1:retry:1")]


def test_the_customer_the_payment_method_belongs_to_is_named_when_known(fake: FakeStripe) -> None:
    processor(fake).charge(request(processor_customer_id="cus_Ada"))

    [intent] = fake.created("payment_intent")
    assert intent["customer"] == "cus_Ada"


def test_a_decline_fails_with_the_decline_code(fake: FakeStripe) -> None:
    result = processor(fake).charge(request("pm_card_chargeDeclinedInsufficientFunds"))

    [intent] = fake.created("payment_intent")
    assert result == ChargeResult(
        ChargeOutcome.FAILED,
        payment_id=intent["id"],
        failure=Failure(
            "insufficient_funds", "Your card has insufficient funds.", network=Network.VISA
        ),
    )
    assert len(fake.calls) == 1


def test_a_generic_decline_keeps_its_decline_code_in_status_too(fake: FakeStripe) -> None:
    sent = processor(fake).charge(request("pm_card_chargeDeclined"))
    fake.advance(61)

    found = processor(fake).status(request("pm_card_chargeDeclined"))

    assert sent.failure == Failure(
        "generic_decline", "Your card was declined.", network=Network.VISA
    )
    assert found == sent


def test_a_bank_debit_processing_is_pending_then_found_pending(fake: FakeStripe) -> None:
    sent = processor(fake).charge(request("pm_usBankAccount_processing"))
    fake.advance(61)
    found = processor(fake).status(request("pm_usBankAccount_processing"))

    [intent] = fake.created("payment_intent")
    assert sent == ChargeResult(ChargeOutcome.PENDING, payment_id=intent["id"])
    assert found == sent


def test_a_returned_bank_debit_without_a_decline_code_is_found_failed(fake: FakeStripe) -> None:
    """A bank debit's payment error has a `code` and no `decline_code` key at all."""
    sent = processor(fake).charge(request("pm_usBankAccount_processing"))
    assert sent.payment_id is not None
    assert fake.settle(sent.payment_id, "failed") is not None
    fake.advance(61)

    found = processor(fake).status(request("pm_usBankAccount_processing"))

    assert found is not None and found.failure is not None
    assert (found.outcome, found.payment_id) == (ChargeOutcome.FAILED, sent.payment_id)
    assert found.failure.code != "payment_failed"  # the error's own code, not the default


def test_a_refund_the_account_cannot_fund_fails_for_insufficient_funds(fake: FakeStripe) -> None:
    payment = paid(fake, "pm_card_refundFailInsufficientFunds")
    refund = request(
        "pm_card_refundFailInsufficientFunds", operation=Operation.REFUND, payment_id=payment
    )

    result = processor(fake).refund(refund)

    [created] = fake.created("refund")
    assert created["payment_intent"] == payment
    assert created["amount"] == 12_50
    assert result == ChargeResult(
        ChargeOutcome.FAILED,
        payment_id=created["id"],
        failure=Failure("insufficient_funds", "The refund failed."),
    )
    assert processor(fake).status(refund) == result


def test_a_refund_refused_for_the_account_balance_fails_for_insufficient_funds(
    fake: FakeStripe,
) -> None:
    payment = paid(fake)
    fake.unfunded.add("acct_1OrgOne")

    result = processor(fake).refund(request(operation=Operation.REFUND, payment_id=payment))

    assert fake.created("refund") == []
    assert result.outcome is ChargeOutcome.FAILED
    assert result.failure is not None and result.failure.code == "insufficient_funds"


def test_a_refund_named_by_the_failed_refund_refunds_its_payment_intent(fake: FakeStripe) -> None:
    token = "pm_card_refundFailInsufficientFunds"
    payment = paid(fake, token)
    first = request(token, operation=Operation.REFUND, key="ent_1:refund", payment_id=payment)
    failed_refund = processor(fake).refund(first).payment_id
    assert failed_refund is not None
    retry = request(token, operation=Operation.REFUND, payment_id=failed_refund)
    calls_before = len(fake.calls)

    result = processor(fake).refund(retry)

    refunds = fake.created("refund")
    assert [r["payment_intent"] for r in refunds] == [payment, payment]
    assert result.payment_id == refunds[-1]["id"] != failed_refund
    # The failed refund is read for its PaymentIntent, then the refund is created.
    assert [(c.method, c.path) for c in fake.calls[calls_before:]] == [
        ("GET", f"/v1/refunds/{failed_refund}"),
        ("POST", "/v1/refunds"),
    ]


def test_a_pending_bank_refund_is_pending(fake: FakeStripe) -> None:
    payment = paid(fake, "pm_usBankAccount_processing")
    refund = request("pm_usBankAccount_processing", operation=Operation.REFUND, payment_id=payment)

    result = processor(fake).refund(refund)

    [created] = fake.created("refund")
    assert result == ChargeResult(ChargeOutcome.PENDING, payment_id=created["id"])


def test_a_refund_status_is_none_before_it_was_sent(fake: FakeStripe) -> None:
    payment = paid(fake)
    refund = request(operation=Operation.REFUND, payment_id=payment)

    assert processor(fake).status(refund) is None


def test_a_lost_answer_is_unknown_then_found_and_never_charged_twice(fake: FakeStripe) -> None:
    fake.fail_next(2, "timeout")  # the first try and the SDK's retry both lose their answer
    with pytest.raises(ProcessorUnavailable):
        processor(fake, timeout_seconds=0.3).charge(request())
    assert [c.idempotency_key for c in fake.calls] == ["ent_1:retry:1", "ent_1:retry:1"]

    # Within the search lag the PaymentIntent is not found yet: what the worker does then is
    # send again under the same key, which Stripe answers with the original.
    assert processor(fake).status(request()) is None
    again = processor(fake).charge(request())
    fake.advance(61)
    found = processor(fake).status(request())

    [intent] = fake.created("payment_intent")
    assert again == found == ChargeResult(ChargeOutcome.SUCCEEDED, payment_id=intent["id"])


def test_a_status_for_a_key_never_sent_is_none(fake: FakeStripe) -> None:
    processor(fake).charge(request(key="ent_1:retry:1"))
    fake.advance(61)

    assert processor(fake).status(request(key="ent_1:retry:2")) is None
    assert len(fake.created("payment_intent")) == 1


def test_a_rate_limit_is_unknown_and_the_same_key_then_charges_once(fake: FakeStripe) -> None:
    fake.fail_next(1, "rate_limit")
    with pytest.raises(ProcessorUnavailable):
        processor(fake).charge(request())

    result = processor(fake).charge(request())

    [intent] = fake.created("payment_intent")
    assert result == ChargeResult(ChargeOutcome.SUCCEEDED, payment_id=intent["id"])
    assert [c.idempotency_key for c in fake.calls] == ["ent_1:retry:1", "ent_1:retry:1"]


def test_a_server_error_is_retried_by_the_sdk_under_the_same_key(fake: FakeStripe) -> None:
    fake.fail_next(1, "server_error")

    result = processor(fake).charge(request())

    assert result.outcome is ChargeOutcome.SUCCEEDED
    assert len(fake.created("payment_intent")) == 1
    assert [c.idempotency_key for c in fake.calls] == ["ent_1:retry:1", "ent_1:retry:1"]


def test_server_errors_past_the_sdk_retries_are_unknown(fake: FakeStripe) -> None:
    fake.fail_next(2, "server_error")

    with pytest.raises(ProcessorUnavailable):
        processor(fake).charge(request())
    assert fake.created("payment_intent") == []


def test_the_same_key_twice_makes_one_payment_intent(fake: FakeStripe) -> None:
    first = processor(fake).charge(request())
    second = processor(fake).charge(request())

    assert len(fake.created("payment_intent")) == 1
    assert first == second


def test_an_organization_without_a_stripe_account_is_refused(fake: FakeStripe) -> None:
    with pytest.raises(NoStripeAccount, match="org_2"):
        processor(fake).charge(request(organization_id="org_2"))
    assert fake.calls == []


def test_a_refused_api_key_is_an_alarm_not_a_failure(fake: FakeStripe) -> None:
    with pytest.raises(StripeAccessRefused):
        processor(fake, api_key="sk_test_revoked").charge(request())
    assert fake.created("payment_intent") == []


def test_an_unfilled_key_secret_is_refused_before_any_request(fake: FakeStripe) -> None:
    with pytest.raises(StripeAccessRefused, match="StripeApiKeySecret"):
        processor(fake, api_key="unset").charge(request())
    assert isinstance(StripeAccessRefused("x"), ProcessorRefused)
    assert fake.calls == []


def test_a_resend_with_another_method_under_the_same_key_is_unknown_never_a_charge(
    fake: FakeStripe,
) -> None:
    """The scheduled payment's method changed between a lost answer and the resend: Stripe
    refuses the key, which says the first request arrived; its status finds it once indexed."""
    first = processor(fake).charge(request("pm_card_visa"))

    with pytest.raises(ProcessorUnavailable, match="another request"):
        processor(fake).charge(request("pm_card_chargeDeclined"))
    fake.advance(61)

    assert processor(fake).status(request("pm_card_chargeDeclined")) == first
    assert len(fake.created("payment_intent")) == 1


def test_the_key_is_asked_before_each_request(fake: FakeStripe) -> None:
    """A rotated key is taken up at once: the caller's cache decides, not the adapter."""
    keys = iter(["sk_test_revoked", API_KEY])
    rotating = StripeProcessor(lambda: next(keys), api_base=fake.url)

    with pytest.raises(StripeAccessRefused):
        rotating.charge(request())
    assert rotating.charge(request()).outcome is ChargeOutcome.SUCCEEDED


def test_a_request_stripe_refuses_as_invalid_is_an_alarm_never_a_failure(fake: FakeStripe) -> None:
    """A payment method Stripe does not know (detached, or another account's): 400
    resource_missing. Nothing is created, and sending it again would be refused alike."""
    with pytest.raises(StripeRequestRefused, match="resource_missing") as refused:
        processor(fake).charge(request("pm_unknown_to_stripe"))

    assert isinstance(refused.value, ProcessorRefused)
    assert fake.created("payment_intent") == []


def test_an_account_that_revoked_access_is_an_alarm_not_a_failure(fake: FakeStripe) -> None:
    fake.revoked.add("acct_1OrgOne")

    with pytest.raises(StripeAccessRefused, match="acct_1OrgOne"):
        processor(fake).charge(request())
    assert fake.created("payment_intent") == []


def test_metadata_stays_within_stripe_limits() -> None:
    items = [{"invoice_id": f"inv_{i}", "item_id": f"it_{i}", "amount": 1} for i in range(50)]
    metadata = stripe_metadata(request(invoice_items=items, retry_of="someone else"))

    assert "invoice_items" not in metadata  # over 500 characters as JSON
    assert metadata["retry_of"] == "ent_1"
    assert all(isinstance(v, str) and len(v) <= 500 for v in metadata.values())
    assert len(metadata) <= 50


def test_a_status_looks_on_the_account_the_request_was_sent_on(fake: FakeStripe) -> None:
    # The key alone does not say which connected account to search (see the module docstring).
    processor(fake).charge(request())
    fake.advance(61)
    assert processor(fake).status(request()) is not None
    assert {c.account for c in fake.calls} == {ACCOUNTS["org_1"]}
    before = len(fake.calls)
    with pytest.raises(NoStripeAccount, match="org_2"):
        processor(fake).status(request(organization_id="org_2"))
    assert len(fake.calls) == before


def test_the_retry_workers_refund_request_refunds_the_failed_payment(fake: FakeStripe) -> None:
    """The request app/retry_worker.py builds names the failed payment (metadata `payment_id`);
    the watchdog's status request, built from the entry alone, finds the refund made."""
    payment = paid(fake)
    body = factories.refund_failed(
        data__organization_id="org_1",
        data__payment_id=payment,
        data__amount=12_50,
        data__invoice_items=[{"invoice_id": "inv_1", "item_id": "it_1", "amount": 12_50}],
    )
    store = InMemoryEntryStore()
    entry_id = payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(of=body), body
    ).entry_id
    assert entry_id is not None
    admin = Caller("org_1", "user_1", "admin@example.com", frozenset({"billing_admin"}))
    actions.request_retry(store, RecordingQueue(), admin, entry_id)
    billing = InMemoryBillingStore()
    settings = factories.organization_upserted(
        data__organization_id="org_1", data__processor_account_id=ACCOUNTS["org_1"]
    )
    billing_webhook.handle_billing_event(billing, factories.delivery(of=settings), settings)
    requested = retry_worker.charge_request(store.get("org_1", entry_id), billing)
    entry = store.get("org_1", entry_id).charge_sent(
        "2026-11-24T15:31:00Z", requested.method, requested.processor_account
    )

    sent = processor(fake).refund(requested)

    [created] = fake.created("refund")
    assert created["payment_intent"] == payment
    assert created["metadata"]["payment_id"] == payment
    assert sent == ChargeResult(ChargeOutcome.SUCCEEDED, payment_id=created["id"])
    assert processor(fake).status(retry_worker.status_request(entry)) == sent
