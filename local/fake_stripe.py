"""A local fake of the Stripe API, for its two users: the Stripe processor's contract tests
(tests/integration/test_stripe_processor.py), which move its clock by hand, and the local stack
run with PROCESSOR=stripe (local/stack.py, docs/local-stack.md), whose functions send it their
calls (STRIPE_API_BASE) and whose clock is the real time.

A threaded HTTP server answering what the adapter calls, with Stripe's object shapes and error
bodies: PaymentIntents (create and confirm, search), Refunds (create, retrieve, list). Like Stripe
it keeps objects per connected account (`Stripe-Account`), answers a repeated `Idempotency-Key`
with the first response and never a second object, refuses the same key with other parameters
(400 `idempotency_error`), and indexes objects for search only some time after they are written
(`search_lag`, against its clock: moved by `advance`, or the real time with `real_time`).

Outcomes are decided by payment method id, as with Stripe's test payment methods:
`pm_card_visa` succeeds; `pm_card_chargeDeclined` and `pm_card_chargeDeclinedInsufficientFunds`
are declined (402, `card_declined` with decline code `generic_decline` / `insufficient_funds`);
`pm_usBankAccount_processing` is left `processing` (a bank debit, until `settle`). A refund of a
payment made with `pm_card_refundFailInsufficientFunds` (charged like a visa) fails with
`insufficient_funds`; of a bank debit it stays `pending`. Any other `pm_` id is unknown (400
`resource_missing`).

The sandbox processor's tokens (adapters/processors/sandbox.py), which the demo data and the
e2e tests use, stand for the test payment method with the same outcome: `tok_insufficient_funds`
and `tok_card_declined` for the two declines, `tok_echeck_pending` for the bank debit, any other
`tok_` for the visa; `tok_timeout` is never answered usefully: every create and every search for
its key answers 500 `api_error` and nothing is created, so the adapter only ever sees
ProcessorUnavailable, as with the sandbox's lost answer.

`settle(target, outcome)` settles a `processing` PaymentIntent (or a `pending` refund) as the bank
eventually does and returns the Connect event Stripe sends about it. `fail_next(n, kind)` makes
the next n requests answer 429 (`rate_limit`), 500 (`server_error`), or process the request and
then answer nothing until the client gives up or `hang_seconds` pass (`timeout`, a lost
response). `ledger` lists every object created; `calls` every request received; `snapshot()` both
as JSON. Every method takes the fake's lock: the server's threads and the test share it.
"""

import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from local import demo
from local.services import ThreadedServer

API_KEY = "sk_test_fake"
# The API version the fake's events say they are written in (stripe-python 16.1.0's pinned one).
API_VERSION = "2026-10-28.endive"
FAULTS = ("rate_limit", "server_error", "timeout")
SETTLE_OUTCOMES = ("succeeded", "failed")

_CHARGES: dict[str, tuple[str, str | None]] = {
    # payment method id: (PaymentIntent status, decline code)
    "pm_card_visa": ("succeeded", None),
    "pm_card_refundFailInsufficientFunds": ("succeeded", None),
    "pm_card_chargeDeclined": ("requires_payment_method", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("requires_payment_method", "insufficient_funds"),
    "pm_usBankAccount_processing": ("processing", None),
}
# The sandbox's tokens, by the test payment method that behaves the same; any other `tok_` is
# the visa. tok_timeout is in none: it is never answered (_UNANSWERED).
_TOKENS = {
    "tok_insufficient_funds": "pm_card_chargeDeclinedInsufficientFunds",
    "tok_card_declined": "pm_card_chargeDeclined",
    "tok_echeck_pending": "pm_usBankAccount_processing",
}
_UNANSWERED = "tok_timeout"
# A refund of a payment made with a sandbox token fails as the sandbox's does (a refund's
# failure_reason as Stripe gives it).
_TOKEN_REFUND_FAILURES = {
    "tok_insufficient_funds": "insufficient_funds",
    "tok_card_declined": "declined",
}
_REFUND_FAILURES = {"pm_card_refundFailInsufficientFunds": "insufficient_funds"}
_BANK_DEBITS = {"pm_usBankAccount_processing"}
_DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}
# What a bank debit that the bank returned leaves on its PaymentIntent.
_RETURNED = {
    "type": "invalid_request_error",
    "code": "insufficient_funds",
    "message": "The customer's account has insufficient funds to cover this payment.",
}
_SEARCH = re.compile(r"^metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'$")


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


@dataclass
class Call:
    method: str
    path: str
    account: str | None
    idempotency_key: str | None
    params: dict[str, Any] = field(default_factory=dict)
    status: int | None = None  # the HTTP status answered; None: no answer (a lost response)
    # What it was answered, in one word: the object's `status` then, or the error's `type`
    # (card_error for a decline); None for a lost response.
    answered: str | None = None
    at: float = 0.0  # the fake's clock when it arrived


@dataclass
class _Replay:
    """What a key was first used for, and the answer every later use gets."""

    method: str
    path: str
    params: dict[str, Any]
    answer: Answer


@dataclass
class FakeStripe:
    search_lag: float = 60.0
    # How long a lost response keeps the connection open at most, unless the client gives up.
    hang_seconds: float = 10.0
    api_key: str = API_KEY
    clock: float = 1_800_000_000.0
    # True: the clock is the real time (plus whatever `advance` added), as the local stack
    # needs, where the functions see search lag in seconds of wall time.
    real_time: bool = False
    # Connected accounts that revoked the platform's access: 403, as Stripe answers then.
    revoked: set[str] = field(default_factory=set)
    # Connected accounts whose balance cannot fund a refund: 400 `balance_insufficient`.
    unfunded: set[str] = field(default_factory=set)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    _objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    _indexed_at: dict[str, float] = field(default_factory=dict)
    _replays: dict[tuple[str | None, str], _Replay] = field(default_factory=dict)
    # (account, idempotency key) of the creates made with tok_timeout: never answered.
    _unanswered: set[tuple[str, str]] = field(default_factory=set)
    _faults: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)
    url: str = ""

    # --- what a test (or the local stack) does ----------------------------------------------

    def now(self) -> float:
        """The fake's clock, in Unix seconds."""
        with self._lock:
            return time.time() + self.clock if self.real_time else self.clock

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.clock += seconds

    def __post_init__(self) -> None:
        if self.real_time:
            self.clock = 0.0  # an offset to the real time from now on

    def fail_next(self, count: int, kind: str) -> None:
        if kind not in FAULTS:
            raise ValueError(f"kind must be one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([kind] * count)

    def created(self, kind: str) -> list[dict[str, Any]]:
        """The objects of that kind ("payment_intent", "refund") created, oldest first."""
        with self._lock:
            return [obj for obj in self.ledger if obj["object"] == kind]

    def snapshot(self) -> dict[str, Any]:
        """{"calls": every request received, "objects": every object created (its connected
        account as `account`)}, oldest first, as JSON values (GET /_local/stripe/requests)."""
        with self._lock:
            calls = [asdict(call) for call in self.calls]
            objects = [{**public(obj), "account": obj["_account"]} for obj in self.ledger]
        return {"calls": copy.deepcopy(calls), "objects": objects}

    def settle(self, target: str, outcome: str) -> dict[str, Any] | None:
        """Settle a processing PaymentIntent or a pending refund, as the bank eventually does:
        `target` is its id, or the transaction its metadata names (`transaction_id`). Returns
        the event Stripe sends the platform's Connect endpoint about it; None if nothing of that
        target is processing or pending."""
        if outcome not in SETTLE_OUTCOMES:
            raise ValueError("outcome must be succeeded or failed")
        with self._lock:
            found = self._unsettled(target)
            if found is None:
                return None
            if found["object"] == "payment_intent":
                kind = self._settle_payment(found, outcome)
            else:
                kind = self._settle_refund(found, outcome)
            return self._event(kind, found)

    def reopen(self, object_id: str) -> None:
        """Undo a settle whose event could not be delivered: processing (pending) again."""
        with self._lock:
            obj = self._objects.get(object_id)
            if obj is None:
                return
            if obj["object"] == "payment_intent":
                obj |= {
                    "status": "processing",
                    "last_payment_error": None,
                    "payment_method": obj["_payment_method"],
                }
            else:
                obj |= {"status": "pending", "failure_reason": None}

    # --- serving ----------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: str) -> Answer | None:
        """The answer to one request; None: hang up without one (after hang_seconds)."""
        path, query = urlsplit(target).path, urlsplit(target).query
        account = headers.get("stripe-account")
        key = headers.get("idempotency-key") if method == "POST" else None
        params = _form(body if method == "POST" else query)
        with self._lock:
            call = Call(method, path, account, key, params, at=self.now())
            self.calls.append(call)
            answer = self._answer(method, path, account, key, params, headers)
            if answer is not None:
                call.status, call.answered = answer.status, _in_a_word(answer)
            return answer

    def _answer(
        self,
        method: str,
        path: str,
        account: str | None,
        key: str | None,
        params: dict[str, Any],
        headers: dict[str, str],
    ) -> Answer | None:
        fault = self._faults.pop(0) if self._faults else None
        if fault == "rate_limit":
            return _error(429, "invalid_request_error", "rate_limit", "Too many requests.")
        if fault == "server_error":
            return _server_error()
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_request_error", None, "Invalid API Key provided.")
        if key is not None and (account, key) in self._replays:
            answer = self._replayed(self._replays[(account, key)], method, path, params, key)
        else:
            answer = self._route(method, path, account, params)
            # Stripe keeps no result for a request it did not execute (a 5xx here), and replays
            # the response as it was then, whatever became of its object since.
            if key is not None and answer.status < 500:
                kept = Answer(answer.status, copy.deepcopy(answer.body))
                self._replays[(account, key)] = _Replay(method, path, params, kept)
        return None if fault == "timeout" else answer

    @staticmethod
    def _replayed(
        first: _Replay, method: str, path: str, params: dict[str, Any], key: str
    ) -> Answer:
        """The first answer again, if the key is used for the same request (Stripe compares
        the endpoint and the parameters)."""
        if (first.method, first.path) != (method, path):
            return _error(
                400,
                "idempotency_error",
                None,
                "Keys for idempotent requests can only be used for the same endpoint they were"
                f" first used for ('{first.method} {first.path}' vs '{method} {path}'). Try"
                f" using a key other than '{key}' if you meant to execute a different request.",
            )
        if first.params != params:
            return _error(
                400,
                "idempotency_error",
                None,
                "Keys for idempotent requests can only be used with the same parameters they"
                f" were first used with. Try using a key other than '{key}' if you meant to"
                " execute a different request.",
            )
        return first.answer

    def _route(self, method: str, path: str, account: str | None, params: dict[str, Any]) -> Answer:
        if account is None or not account.startswith("acct_"):
            return _error(403, "invalid_request_error", None, "No such connected account.")
        if account in self.revoked:
            return _error(
                403,
                "invalid_request_error",
                "account_invalid",
                f"The provided key does not have access to account '{account}'.",
            )
        return self._endpoint(method, path, account, params)

    def _endpoint(self, method: str, path: str, account: str, params: dict[str, Any]) -> Answer:
        match method, path.rstrip("/").split("/")[2:]:
            case "POST", ["payment_intents"]:
                return self._create_payment_intent(account, params)
            case "GET", ["payment_intents", "search"]:
                return self._search(account, params)
            case "POST", ["refunds"]:
                return self._create_refund(account, params)
            case "GET", ["refunds"]:
                return self._list_refunds(account, params)
            case "GET", ["refunds", refund_id]:
                refund = self._owned(account, refund_id)
                return Answer(200, refund) if refund else _missing("refund", refund_id)
        return _error(404, "invalid_request_error", None, f"Unrecognized request URL {path}.")

    def _create_payment_intent(self, account: str, params: dict[str, Any]) -> Answer:
        method = params.get("payment_method", "")
        if method == _UNANSWERED:
            metadata = params.get("metadata", {})
            self._unanswered.add((account, str(metadata.get("idempotency_key", ""))))
            return _server_error()
        behaves_as = _behaviour(method)
        if behaves_as not in _CHARGES:
            return _missing("payment_method", method)
        if params.get("confirm") != "true" or params.get("off_session") != "true":
            return _error(400, "invalid_request_error", None, "Expected confirm and off_session.")
        status, decline = _CHARGES[behaves_as]
        intent = self._new(
            "pi",
            account,
            object="payment_intent",
            amount=int(params["amount"]),
            currency=params["currency"],
            # As Stripe: a declined intent's payment method is cleared for the next attempt; the
            # one declined is in last_payment_error (the fake keeps it as `_payment_method`).
            payment_method=None if decline else method,
            payment_method_types=[_type_of(method)],
            customer=params.get("customer"),
            status=status,
            metadata=params.get("metadata", {}),
            cancellation_reason=None,
            last_payment_error=_card_error(decline, method) if decline else None,
            _payment_method=method,
        )
        if decline is None:
            return Answer(200, intent)
        return Answer(402, {"error": {**_card_error(decline, method), "payment_intent": intent}})

    def add_payment(
        self, account: str, intent_id: str, amount: int, currency: str, payment_method: str
    ) -> dict[str, Any]:
        """A payment made before (a PaymentIntent succeeded, or processing for a bank debit) on
        that connected account, under that id: what a refund can refund."""
        with self._lock:
            status, _ = _CHARGES.get(_behaviour(payment_method), ("succeeded", None))
            intent = self._new(
                "pi",
                account,
                object="payment_intent",
                amount=amount,
                currency=currency.lower(),
                payment_method=payment_method,
                payment_method_types=[_type_of(payment_method)],
                customer=None,
                status="processing" if status == "processing" else "succeeded",
                metadata={},
                cancellation_reason=None,
                last_payment_error=None,
                _payment_method=payment_method,
            )
            del self._objects[intent["id"]]
            intent["id"] = intent_id
            self._objects[intent_id] = intent
            self._indexed_at[intent_id] = self.now() + self.search_lag
            return intent

    def _create_refund(self, account: str, params: dict[str, Any]) -> Answer:
        intent = self._owned(account, params.get("payment_intent", ""))
        if intent is None:
            return _missing("payment_intent", params.get("payment_intent", ""))
        if intent["status"] not in {"succeeded", "processing"}:
            return _error(400, "invalid_request_error", "charge_not_refundable", "Not paid.")
        if account in self.unfunded:
            return _error(
                400,
                "invalid_request_error",
                "balance_insufficient",
                "You have insufficient funds in your Stripe account for this refund.",
            )
        amount = int(params.get("amount", intent["amount"]))
        refunded = sum(
            r["amount"] for r in self._refunds_of(account, intent["id"]) if r["status"] != "failed"
        )
        if amount + refunded > intent["amount"]:
            return _error(400, "invalid_request_error", "amount_too_large", "Amount too large.")
        charged = intent["_payment_method"]
        behaves_as = _behaviour(charged)
        if charged == _UNANSWERED:
            return _server_error()
        failure = _REFUND_FAILURES.get(behaves_as) or _TOKEN_REFUND_FAILURES.get(charged)
        status = "pending" if behaves_as in _BANK_DEBITS else "succeeded"
        refund = self._new(
            "re",
            account,
            object="refund",
            amount=amount,
            currency=intent["currency"],
            payment_intent=intent["id"],
            charge=None,
            status="failed" if failure else status,
            failure_reason=failure,
            metadata=params.get("metadata", {}),
        )
        return Answer(200, refund)

    def _search(self, account: str, params: dict[str, Any]) -> Answer:
        found = _SEARCH.match(params.get("query", ""))
        if found is None:
            return _error(400, "invalid_request_error", None, "Unsupported search query.")
        name, value = found.group(1), re.sub(r"\\(.)", r"\1", found.group(2))
        if name == "idempotency_key" and (account, value) in self._unanswered:
            return _server_error()
        now = self.now()
        data = [
            obj
            for obj in self._objects.values()
            if obj["object"] == "payment_intent"
            and obj["_account"] == account
            and self._indexed_at[obj["id"]] <= now
            and obj["metadata"].get(name) == value
        ]
        limit = int(params.get("limit", 10))
        return Answer(
            200,
            {
                "object": "search_result",
                "url": "/v1/payment_intents/search",
                "data": data[:limit],
                "has_more": len(data) > limit,
                "next_page": None,
            },
        )

    def _list_refunds(self, account: str, params: dict[str, Any]) -> Answer:
        refunds = self._refunds_of(account, params.get("payment_intent", ""))
        limit = int(params.get("limit", 10))
        return Answer(
            200,
            {
                "object": "list",
                "url": "/v1/refunds",
                "data": refunds[::-1][:limit],
                "has_more": len(refunds) > limit,
            },
        )

    def _refunds_of(self, account: str, intent_id: str) -> list[dict[str, Any]]:
        return [
            obj
            for obj in self._objects.values()
            if obj["object"] == "refund"
            and obj["_account"] == account
            and obj["payment_intent"] == intent_id
        ]

    def _owned(self, account: str, object_id: str) -> dict[str, Any] | None:
        obj = self._objects.get(object_id)
        return obj if obj is not None and obj["_account"] == account else None

    def _new(self, prefix: str, account: str, **fields: Any) -> dict[str, Any]:
        now = self.now()
        obj = {"id": f"{prefix}_fake{next(self._ids):06d}", **fields, "_account": account}
        obj["created"] = int(now)
        self._objects[obj["id"]] = obj
        self._indexed_at[obj["id"]] = now + self.search_lag
        self.ledger.append(obj)
        return obj

    # --- settling ---------------------------------------------------------------------------

    def _unsettled(self, target: str) -> dict[str, Any] | None:
        waiting = {"payment_intent": "processing", "refund": "pending"}
        return next(
            (
                obj
                for obj in self.ledger
                if obj["status"] == waiting[obj["object"]]
                and target in (obj["id"], obj["metadata"].get("transaction_id"))
            ),
            None,
        )

    @staticmethod
    def _settle_payment(intent: dict[str, Any], outcome: str) -> str:
        if outcome == "succeeded":
            intent["status"] = "succeeded"
            return "payment_intent.succeeded"
        method = intent["_payment_method"]
        intent["status"] = "requires_payment_method"
        intent["payment_method"] = None
        intent["last_payment_error"] = {**_RETURNED, "payment_method": _payment_method(method)}
        return "payment_intent.payment_failed"

    @staticmethod
    def _settle_refund(refund: dict[str, Any], outcome: str) -> str:
        if outcome == "succeeded":
            refund["status"] = "succeeded"
            return "refund.updated"
        refund["status"] = "failed"
        refund["failure_reason"] = "insufficient_funds"
        return "refund.failed"

    def _event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """A Connect event as Stripe sends it: the object as it is now, and its account."""
        now = int(self.now())
        return {
            "id": f"evt_fake{next(self._ids):06d}",
            "object": "event",
            "api_version": API_VERSION,
            "account": obj["_account"],
            "created": now,
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": public(obj)},
        }


def stripe_signature(secret: str, payload: bytes, timestamp: int) -> str:
    """The Stripe-Signature header Stripe sends with `payload` at `timestamp`: `t=...,v1=...`,
    the HMAC-SHA256 of "<t>.<payload>" under the endpoint's secret."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _behaviour(payment_method: str) -> str:
    """The test payment method whose outcomes this one has (itself, but for the sandbox's
    tokens)."""
    if payment_method.startswith("tok_"):
        return _TOKENS.get(payment_method, "pm_card_visa")
    return payment_method


def _in_a_word(answer: Answer) -> str | None:
    error = answer.body.get("error")
    if isinstance(error, dict):
        return str(error.get("type"))
    status = answer.body.get("status")
    return None if status is None else str(status)


def _type_of(payment_method: str) -> str:
    """Stripe's type of the payment method (its PaymentMethod's `type`)."""
    return "us_bank_account" if _behaviour(payment_method) in _BANK_DEBITS else "card"


def _payment_method(method: str) -> dict[str, Any]:
    """The PaymentMethod object, as last_payment_error carries it (expanded)."""
    kind = _type_of(method)
    described: dict[str, Any] = {"id": method, "object": "payment_method", "type": kind}
    if kind == "card":
        described["card"] = {"brand": "visa", "last4": "4242"}
    else:
        described["us_bank_account"] = {"bank_name": "STRIPE TEST BANK", "last4": "6789"}
    return described


def _card_error(decline: str, method: str) -> dict[str, Any]:
    return {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": decline,
        "message": _DECLINE_MESSAGES[decline],
        "payment_method": _payment_method(method),
    }


def _error(status: int, kind: str, code: str | None, message: str) -> Answer:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:
        error["code"] = code
    return Answer(status, {"error": error})


def _server_error() -> Answer:
    return _error(500, "api_error", None, "Something went wrong on Stripe's end.")


def _missing(what: str, object_id: str) -> Answer:
    return _error(
        400, "invalid_request_error", "resource_missing", f"No such {what}: '{object_id}'"
    )


def _form(encoded: str) -> dict[str, Any]:
    """Stripe's form encoding, one level deep (`metadata[key]=value`)."""
    params: dict[str, Any] = {}
    for name, value in parse_qsl(encoded, keep_blank_values=True):
        nested = re.fullmatch(r"(\w+)\[([^\]]+)\]", name)
        if nested:
            params.setdefault(nested.group(1), {})[nested.group(2)] = value
        else:
            params[name] = value
    return params


def public(body: dict[str, Any]) -> dict[str, Any]:
    """The body without the fake's own bookkeeping (keys starting with `_`), a copy."""
    return dict(
        json.loads(
            json.dumps(body, default=str),
            object_hook=lambda obj: {k: v for k, v in obj.items() if not k.startswith("_")},
        )
    )


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.fake.answer(method, self.path, headers, body)
        if answer is None:
            # The request was processed; its answer is lost: wait for the client to time out
            # and hang up (a read that ends), then close without a word.
            self.connection.settimeout(self.server.fake.hang_seconds)
            with contextlib.suppress(OSError):
                self.rfile.read(1)
            self.close_connection = True
            return
        payload = json.dumps(public(answer.body)).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", f"req_fake{len(self.server.fake.calls)}")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStripe


class FakeStripeServer(ThreadedServer):
    """The fake served on `host:port` (0: a free port) in a thread: start(), stop(), `url`."""

    name = "fake-stripe"
    poll_interval = 0.02

    def __init__(self, fake: FakeStripe, port: int = 0, host: str = "127.0.0.1") -> None:
        self.fake = fake
        self._address = (host, port)

    def make_server(self) -> _Server:
        server = _Server(self._address, _Handler)
        server.fake = self.fake
        return server

    def start(self) -> None:
        super().start()
        assert self._server is not None
        host, port = self._server.server_address[:2]
        self.fake.url = f"http://{host!s}:{port}"


@contextmanager
def running(fake: FakeStripe) -> Iterator[FakeStripe]:
    """Serve the fake on a free local port for the duration of the block (`fake.url`)."""
    server = FakeStripeServer(fake)
    server.start()
    try:
        yield fake
    finally:
        server.stop()


class LocalStripe:
    """The fake as the local stack runs it (PROCESSOR=stripe): on the real clock, with the
    stack's restricted key, and the Connect events of what it settles delivered, signed with the
    endpoint's secret, to the stack's POST /webhooks/stripe (GET and POST /_local/stripe/...)."""

    def __init__(
        self,
        gateway_url: str,
        *,
        api_key: str,
        webhook_secret: str,
        port: int = 0,
        host: str = "127.0.0.1",
        search_lag: float = 2.0,
        hang_seconds: float = 1.0,
    ) -> None:
        self.fake = FakeStripe(
            search_lag=search_lag, hang_seconds=hang_seconds, api_key=api_key, real_time=True
        )
        self._server = FakeStripeServer(self.fake, port, host)
        self._gateway_url = gateway_url
        self._webhook_secret = webhook_secret

    @property
    def url(self) -> str:
        """Where the fake listens (the functions' STRIPE_API_BASE); empty until started."""
        return self.fake.url

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def settle(self, transaction_id: str, outcome: str) -> dict[str, Any] | None:
        """Settle the entry's processing retry at the fake and deliver Stripe's event to the
        gateway: the webhook handler's answer; None if nothing of that entry is processing.
        demo.DeliveryRefused if the handler did not answer 200 (the retry stays processing, so
        a later settle delivers it)."""
        event = self.fake.settle(transaction_id, outcome)
        if event is None:
            return None
        try:
            return self.deliver(event)
        except Exception:
            self.fake.reopen(str(event["data"]["object"]["id"]))
            raise

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """POST the event to /webhooks/stripe as Stripe would: its JSON, Stripe-Signature."""
        payload = json.dumps(event).encode()
        headers = {
            "content-type": "application/json",
            "stripe-signature": stripe_signature(self._webhook_secret, payload, int(time.time())),
        }
        url = f"{self._gateway_url}/webhooks/stripe"
        answer = requests.post(url, data=payload, headers=headers, timeout=60)
        if answer.status_code != 200:
            raise demo.DeliveryRefused(
                f"{event['type']} to {url}: {answer.status_code} {answer.text}"
            )
        return dict(answer.json()) if answer.content else {}
