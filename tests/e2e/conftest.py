"""End-to-end tests: real HTTP against the local stack (DynamoDB Local, the moto server, the
gateway and the real handlers), started once on free ports, without demo data."""

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import pytest
import requests

from local import config, demo
from local.stack import LocalStack

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
    """The running local stack; stopped after the last e2e test."""
    with LocalStack(
        gateway_port=None, dynamodb_port=None, moto_port=None, oidc_port=None
    ) as running:
        yield running


@pytest.fixture(scope="module")
def stripe_stack() -> Iterator[LocalStack]:
    """A second local stack, with PROCESSOR=stripe: the Stripe adapter against the fake Stripe
    API (local/fake_stripe.py). Per module, so that it stops with the module that uses it (a
    start costs some 15 s, and two stacks share the machine meanwhile): only the retry tests run
    on both processors (tests/e2e/test_actions.py)."""
    with LocalStack(
        gateway_port=None,
        dynamodb_port=None,
        moto_port=None,
        oidc_port=None,
        processor="stripe",
        stripe_port=None,
    ) as running:
        yield running


class Api:
    """HTTP to the gateway: `api.get("/transactions", token=...)`.

    One requests session, which is not thread-safe: a thread of a test talks through a client of
    its own, `with api.fresh() as mine: ...`.
    """

    def __init__(self, base_url: str) -> None:
        self.url = base_url
        self.session = requests.Session()

    def fresh(self) -> "Api":
        """A client of the same gateway with a session of its own (close it, or use `with`)."""
        return Api(self.url)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return self.session.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, token, **kwargs)

    # The local-only endpoints of docs/contract.md §5 (each asserts its 200).

    def run_schedule(self, name: str, now: str | None = None) -> dict[str, Any]:
        """POST /_local/schedules/<name>: the run, fan-out included, is over when it returns."""
        answer = self.post(f"/_local/schedules/{name}", json={} if now is None else {"now": now})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def outbox(self) -> list[dict[str, Any]]:
        """GET /_local/outbox: [{"to": [bare addresses], "subject", "html", "text"}],
        oldest first."""
        answer = self.get("/_local/outbox")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["messages"])

    def local_events(self) -> list[dict[str, Any]]:
        """GET /_local/events: [{"detail_type", "detail"}], oldest first."""
        answer = self.get("/_local/events")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["events"])

    def sandbox_charges(self) -> list[dict[str, Any]]:
        """GET /_local/sandbox/charges: every call the sandbox processor received."""
        answer = self.get("/_local/sandbox/charges")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["charges"])

    def settle(self, transaction_id: str, outcome: str) -> Any:
        """POST /_local/sandbox/settle, the response as is (200 once delivered, 404 if none)."""
        return self.post(
            "/_local/sandbox/settle", json={"transaction_id": transaction_id, "outcome": outcome}
        )

    # The local-only endpoints of a stack with PROCESSOR=stripe (docs/local-stack.md).

    def stripe_requests(self) -> dict[str, list[dict[str, Any]]]:
        """GET /_local/stripe/requests: {"calls", "objects"} of the fake Stripe API."""
        answer = self.get("/_local/stripe/requests")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def stripe_settle(self, transaction_id: str, outcome: str) -> Any:
        """POST /_local/stripe/settle, the response as is (200 once delivered, 404 if none)."""
        return self.post(
            "/_local/stripe/settle", json={"transaction_id": transaction_id, "outcome": outcome}
        )

    def stripe_faults(self, kind: str, count: int) -> None:
        """POST /_local/stripe/faults: the fake's next `count` requests fail that way."""
        answer = self.post("/_local/stripe/faults", json={"kind": kind, "count": count})
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="package")
def api(stack: LocalStack) -> Iterator[Api]:
    with Api(stack.url) as client:
        yield client


type WaitForQueues = Callable[..., None]


@pytest.fixture
def queues_idle(stack: LocalStack) -> WaitForQueues:
    """`queues_idle()`: wait until the SQS event sources have handled everything queued (a retry
    the API enqueued, say); fails the test after `timeout` seconds."""

    def wait(timeout: float = 30.0) -> None:
        assert stack.wait_for_queues_idle(timeout), f"the queues were still busy after {timeout} s"

    return wait


type MintToken = Callable[..., str]


def mint_token(
    api: Api,
    org_id: str = "org_e2e",
    groups: Sequence[str] = ("billing_admin",),
    sub: str = "user_e2e",
    email: str = "admin@e2e.example",
) -> str:
    """A JWT for these claims from POST /_local/token (local/demo.py)."""
    return demo.mint_token(api.session, api.url, org_id, sub=sub, email=email, groups=groups)


@pytest.fixture
def token(api: Api) -> MintToken:
    """`token(org_id="org_e2e", groups=["billing_admin"])`: a JWT from POST /_local/token."""

    def mint(*args: Any, **kwargs: Any) -> str:
        return mint_token(api, *args, **kwargs)

    return mint


type PostWebhook = Callable[..., Any]


def signed_post(
    api: Api,
    endpoint: str,
    body: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
    webhook_id: str | None = None,
    at: datetime | None = None,
) -> Any:
    """POST `body` to /webhooks/<endpoint>, signed as the sender would (local/demo.py), as is.

    `secret` defaults to that endpoint's local key; `at` to now; `body` may be bytes.
    """
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = demo.signed_headers(
        secret or config.WEBHOOK_SECRETS[endpoint],
        webhook_id or f"msg_{uuid.uuid4().hex}",
        raw,
        at or datetime.now(UTC),
    )
    return api.post(f"/webhooks/{endpoint}", data=raw, headers=headers)


@pytest.fixture
def post_webhook(api: Api) -> PostWebhook:
    """`post_webhook("payments", {"type": ...})`: `signed_post` through the package's client."""

    def post(endpoint: str, body: dict[str, Any] | bytes, **kwargs: Any) -> Any:
        return signed_post(api, endpoint, body, **kwargs)

    return post
