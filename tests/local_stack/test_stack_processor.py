"""Which processor the local stack runs with (local/stack.py, PROCESSOR and PAC_STRIPE_PORT),
decided before anything starts."""

import pytest

from local.services import LocalServiceError
from local.stack import LocalStack, processor_endpoints


def test_the_sandbox_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROCESSOR", raising=False)
    stack = LocalStack.from_env()
    assert stack.processor == "sandbox"
    assert "stripe" not in stack.ports
    assert [route for route, _ in processor_endpoints(stack)] == [
        "GET  /_local/sandbox/charges",
        "POST /_local/sandbox/settle",
    ]


def test_stripe_serves_the_fake_on_pac_stripe_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR", "stripe")
    monkeypatch.setenv("PAC_STRIPE_PORT", "12111")
    stack = LocalStack.from_env()
    assert (stack.processor, stack.ports["stripe"]) == ("stripe", 12111)
    assert [route for route, _ in processor_endpoints(stack)] == [
        "GET  /_local/stripe/requests",
        "POST /_local/stripe/settle",
        "POST /_local/stripe/faults",
    ]
    with pytest.raises(RuntimeError, match="not running with the sandbox processor"):
        _ = stack.sandbox


def test_any_other_processor_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR", "paypal")
    with pytest.raises(
        LocalServiceError, match="PROCESSOR must be sandbox or stripe, not 'paypal'"
    ):
        LocalStack.from_env()


def test_a_stripe_port_that_is_no_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR", "stripe")
    monkeypatch.setenv("PAC_STRIPE_PORT", "stripe")
    with pytest.raises(LocalServiceError, match="PAC_STRIPE_PORT must be a port number"):
        LocalStack.from_env()
