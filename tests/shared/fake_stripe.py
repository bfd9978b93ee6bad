"""A local fake of the Stripe API, for the Stripe processor's contract tests
(tests/integration/test_stripe_processor.py).

A threaded HTTP server answering what the adapter calls, with Stripe's object shapes and error
bodies: PaymentIntents (create and confirm, search), Refunds (create, retrieve, list). Like Stripe
it keeps objects per connected account (`Stripe-Account`), answers a repeated `Idempotency-Key`
with the first response and never a second object, and indexes objects for search only some time
after they are written (`search_lag`, against a clock the test moves with `advance`).

Outcomes are decided by payment method id, as with Stripe's test payment methods:
`pm_card_visa` succeeds; `pm_card_chargeDeclined` and `pm_card_chargeDeclinedInsufficientFunds`
are declined (402, `card_declined` with decline code `generic_decline` / `insufficient_funds`);
`pm_usBankAccount_processing` is left `processing`. A refund of a payment made with
`pm_card_refundFailInsufficientFunds` (charged like a visa) fails with `insufficient_funds`; of a
bank debit it stays `pending`. Any other id is unknown (400 `resource_missing`).

`fail_next(n, kind)` makes the next n requests answer 429 (`rate_limit`), 500 (`server_error`),
or process the request and then answer nothing until the client gives up (`timeout`, a lost
response).
`ledger` lists every object created; `calls` every request received.
"""

import contextlib
import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_fake"

_CHARGES: dict[str, tuple[str, str | None]] = {
    # payment method id: (PaymentIntent status, decline code)
    "pm_card_visa": ("succeeded", None),
    "pm_card_refundFailInsufficientFunds": ("succeeded", None),
    "pm_card_chargeDeclined": ("requires_payment_method", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("requires_payment_method", "insufficient_funds"),
    "pm_usBankAccount_processing": ("processing", None),
}
_REFUND_FAILURES = {"pm_card_refundFailInsufficientFunds": "insufficient_funds"}
_BANK_DEBITS = {"pm_usBankAccount_processing"}
_DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
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


@dataclass
class FakeStripe:
    search_lag: float = 60.0
    # How long a lost response keeps the connection open at most, unless the client gives up.
    hang_seconds: float = 10.0
    api_key: str = API_KEY
    clock: float = 1_800_000_000.0
    # Connected accounts that revoked the platform's access: 403, as Stripe answers then.
    revoked: set[str] = field(default_factory=set)
    # Connected accounts whose balance cannot fund a refund: 400 `balance_insufficient`.
    unfunded: set[str] = field(default_factory=set)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    _objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    _indexed_at: dict[str, float] = field(default_factory=dict)
    _replays: dict[tuple[str | None, str], Answer] = field(default_factory=dict)
    _faults: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    # --- what a test does -------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.clock += seconds

    def fail_next(self, count: int, kind: str) -> None:
        assert kind in {"rate_limit", "server_error", "timeout"}
        with self._lock:
            self._faults.extend([kind] * count)

    def created(self, kind: str) -> list[dict[str, Any]]:
        """The objects of that kind ("payment_intent", "refund") created, oldest first."""
        return [obj for obj in self.ledger if obj["object"] == kind]

    # --- serving ----------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: str) -> Answer | None:
        """The answer to one request; None: hang up without one (after hang_seconds)."""
        path, query = urlsplit(target).path, urlsplit(target).query
        account = headers.get("stripe-account")
        key = headers.get("idempotency-key") if method == "POST" else None
        with self._lock:
            self.calls.append(Call(method, path, account, key))
            fault = self._faults.pop(0) if self._faults else None
            if fault == "rate_limit":
                return _error(429, "invalid_request_error", "rate_limit", "Too many requests.")
            if fault == "server_error":
                return _error(500, "api_error", None, "Something went wrong on Stripe's end.")
            if headers.get("authorization") != f"Bearer {self.api_key}":
                return _error(401, "invalid_request_error", None, "Invalid API Key provided.")
            if key is not None and (account, key) in self._replays:
                answer = self._replays[(account, key)]
            else:
                params = _form(body if method == "POST" else query)
                answer = self._route(method, path, account, params)
                if key is not None:
                    self._replays[(account, key)] = answer
        return None if fault == "timeout" else answer

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
        if method not in _CHARGES:
            return _missing("payment_method", method)
        if params.get("confirm") != "true" or params.get("off_session") != "true":
            return _error(400, "invalid_request_error", None, "Expected confirm and off_session.")
        status, decline = _CHARGES[method]
        intent = self._new(
            "pi",
            account,
            object="payment_intent",
            amount=int(params["amount"]),
            currency=params["currency"],
            payment_method=method,
            customer=params.get("customer"),
            status=status,
            metadata=params.get("metadata", {}),
            cancellation_reason=None,
            last_payment_error=_card_error(decline, method) if decline else None,
        )
        if decline is None:
            return Answer(200, intent)
        return Answer(402, {"error": {**_card_error(decline, method), "payment_intent": intent}})

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
        failure = _REFUND_FAILURES.get(intent["payment_method"])
        status = "pending" if intent["payment_method"] in _BANK_DEBITS else "succeeded"
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
        data = [
            obj
            for obj in self._objects.values()
            if obj["object"] == "payment_intent"
            and obj["_account"] == account
            and self._indexed_at[obj["id"]] <= self.clock
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
        obj = {"id": f"{prefix}_fake{next(self._ids):06d}", **fields, "_account": account}
        obj["created"] = int(self.clock)
        self._objects[obj["id"]] = obj
        self._indexed_at[obj["id"]] = self.clock + self.search_lag
        self.ledger.append(obj)
        return obj


def _card_error(decline: str, method: str) -> dict[str, Any]:
    return {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": decline,
        "message": _DECLINE_MESSAGES[decline],
        "payment_method": {"id": method, "object": "payment_method"},
    }


def _error(status: int, kind: str, code: str | None, message: str) -> Answer:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:
        error["code"] = code
    return Answer(status, {"error": error})


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


def _public(body: dict[str, Any]) -> dict[str, Any]:
    """The body without the fake's own bookkeeping (keys starting with `_`)."""
    return json.loads(
        json.dumps(body, default=str),
        object_hook=lambda obj: {k: v for k, v in obj.items() if not k.startswith("_")},
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
        payload = json.dumps(_public(answer.body)).encode()
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


@contextmanager
def running(fake: FakeStripe) -> Iterator[FakeStripe]:
    """Serve the fake on a free local port for the duration of the block (`fake.url`)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
