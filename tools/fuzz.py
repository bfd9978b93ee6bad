"""Fuzz the local stack (`make fuzz`, `python -m tools.fuzz [--examples N] [--seed S] [--url URL]`).

Starts a local stack on free ports (local/stack.py) unless --url names a running one, mints a
billing admin's token and a plain member's (POST /_local/token), seeds an organization, a card, a
scheduled payment and a few failures through signed webhooks, then:

1. the HTTP API: schemathesis generates requests for every operation of openapi.json (valid and
   invalid ones, some on the seeded entries' ids) and checks each answer: no 5xx, a status, a
   content type, headers and a body the document declares, invalid input refused, the token
   enforced, the error `code` of docs/contract.md §4.2, another organization's entry a 404, a
   member without billing_admin refused a retry or a dismiss;
2. the webhooks: hypothesis-generated bodies, signed with the endpoint's local secret, posted to
   /webhooks/payments and /webhooks/billing (Standard Webhooks) and /webhooks/stripe
   (Stripe-Signature, events on the seeded organization's connected account): arbitrary JSON
   values and mutations of the valid events of events/ (wrong types, missing fields, odd
   strings, deep nesting, a name twice, non-UTF-8 bytes, a cut body, an oversized one). Every
   answer must be one of docs/contract.md §4.1, with its `code`; a body the contract says is
   refused must be refused with that status.

Prints cases per operation, answers by status and the elapsed seconds; exits 1 and prints each
failing case, shrunk by hypothesis, as a shell command that reproduces it.
"""

import argparse
import base64
import json
import shlex
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from local import config, demo
from local.fake_stripe import stripe_signature
from local.stack import LocalStack
from payment_action_center.domain.cards import next_month
from tools.send_event import http_sample, sample_body

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "openapi.json"
EVENTS = ROOT / "events"
USER = {"sub": "user_fuzz", "email": "fuzz@fuzz.example"}
DEFAULT_SEED = 20261201
TIMEOUT = 60

# docs/contract.md §4.2: the `code` of each error status the API function answers.
API_ERROR_CODES = {
    400: {"invalid_json", "invalid_cursor", "invalid_period"},
    401: {"unauthorized"},
    403: {"forbidden"},
    404: {"not_found"},
    409: {"conflict"},
    422: {"validation_error"},
}
# docs/contract.md §4.1: every answer of a webhook endpoint to a correctly signed delivery.
WEBHOOK_ANSWERS = {
    400: "invalid_payload",
    401: "invalid_signature",  # only for a body that is not UTF-8 (UNVERIFIABLE)
    409: "delivery_in_flight",
    413: "payload_too_large",
}
WEBHOOK_OK = {"accepted", "ignored"}
MAX_BODY = 256 * 1024
MAX_DEPTH = 32
MAX_NUMBER_LITERAL = 32

# The valid events the mutations start from, by endpoint.
WEBHOOK_SAMPLES = {
    "payments": ["webhooks_payments_failed.json", "webhooks_refund_failed.json"],
    "billing": [
        "webhooks_organization_upserted.json",
        "webhooks_billing.json",
        "webhooks_scheduled_payment_upserted.json",
    ],
    "stripe": ["webhooks_stripe_payment_failed.json"],
}
WEBHOOK_ENDPOINTS = tuple(WEBHOOK_SAMPLES)


@dataclass
class Tally:
    """What the run sent and got: requests per operation, answers by status, failures."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)
    verbose: bool = False  # a line per operation as it ends (the long run)

    def count(self, operation: str, status: int) -> None:
        self.cases[operation] += 1
        self.statuses[operation][status] += 1

    def summary(self, elapsed: float) -> str:
        width = max(map(len, self.cases), default=10)
        lines = [f"{'operation':<{width}}  cases  answers by status"]
        for operation in sorted(self.cases):
            statuses = " ".join(f"{s}:{n}" for s, n in sorted(self.statuses[operation].items()))
            lines.append(f"{operation:<{width}}  {self.cases[operation]:>5}  {statuses}")
        overall: Counter[int] = sum(self.statuses.values(), Counter())
        lines.append(
            f"{sum(self.cases.values())} cases, statuses "
            + " ".join(f"{s}:{n}" for s, n in sorted(overall.items()))
            + f", {len(self.failures)} failure(s), {elapsed:.1f} s"
        )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The stack, the token and the seeded data


@contextmanager
def local_stack(url: str | None) -> Iterator[str]:
    """The gateway's URL: `url`, or a new stack on free ports stopped on exit."""
    if url:
        yield url.rstrip("/")
        return
    with LocalStack(gateway_port=None, dynamodb_port=None, moto_port=None, oidc_port=None) as stack:
        yield stack.url


def stripe_account(run: str) -> str:
    """The run's organization's Stripe connected account (acct_ and letters or digits)."""
    return "acct_fuzz" + "".join(c for c in run if c.isalnum())[:50]


def organizations(run: str) -> tuple[str, str]:
    """The run's own organization and another one, whose entries the run's tokens must never
    reach: new ones on a stack that earlier runs, or other tests, have used."""
    return f"org_fuzz_{run}", f"org_fuzz_other_{run}"


def mint_token(
    session: requests.Session,
    url: str,
    org_id: str,
    groups: tuple[str, ...] = ("billing_admin",),
) -> str:
    """A JWT of the fuzz's user in `org_id`, with `groups`."""
    return demo.mint_token(
        session, url, org_id, sub=USER["sub"], email=USER["email"], groups=groups
    )


def sample_event(name: str) -> dict[str, Any]:
    """The event a webhook sample of events/ carries."""
    return dict(json.loads(sample_body(http_sample(EVENTS / name))))


@dataclass
class Delivery:
    """One signed POST to a webhook endpoint, kept to reproduce it."""

    url: str
    endpoint: str
    secret: str
    body: bytes
    webhook_id: str = field(default_factory=lambda: f"msg_fuzz_{uuid.uuid4().hex}")

    def post(self, session: requests.Session) -> requests.Response:
        now = datetime.now(UTC)
        if self.endpoint == "stripe":  # Stripe's own scheme (docs/webhooks.md §9)
            headers = {
                "content-type": "application/json",
                "stripe-signature": stripe_signature(self.secret, self.body, int(now.timestamp())),
            }
        else:
            headers = demo.signed_headers(self.secret, self.webhook_id, self.body, now)
        return session.post(
            f"{self.url}/webhooks/{self.endpoint}", data=self.body, headers=headers, timeout=TIMEOUT
        )

    def reproduction(self) -> str:
        """Shell lines that sign the same body now and POST it (the signature ages in 300 s)."""
        path = Path(tempfile.mkdtemp(prefix="pac-fuzz-")) / "body.bin"
        path.write_bytes(self.body)
        body = shlex.quote(str(path))
        preview = self.body[:300].decode("utf-8", "backslashreplace")
        heading = f"# body ({len(self.body)} bytes) in {path}: {preview!r}" + (
            "..." if len(self.body) > 300 else ""
        )
        url = shlex.quote(self.url + "/webhooks/" + self.endpoint)
        if self.endpoint == "stripe":
            secret = shlex.quote(self.secret.split()[0])
            return "\n".join(
                [
                    heading,
                    "ts=$(date +%s)",
                    f"sig=$( (printf '%s.' \"$ts\"; cat {body}) | openssl dgst -sha256"
                    f" -hmac {secret} -hex | sed 's/^.* //')",
                    f"curl -sS -X POST {url} -H 'content-type: application/json'"
                    f' -H "stripe-signature: t=$ts,v1=$sig" --data-binary @{body}',
                ]
            )
        key = base64.b64decode(self.secret.removeprefix("whsec_").split()[0]).hex()
        return "\n".join(
            [
                heading,
                f"id={self.webhook_id}_again; ts=$(date +%s)",
                f'sig=$( (printf \'%s.%s.\' "$id" "$ts"; cat {body}) | openssl dgst -sha256'
                f" -mac HMAC -macopt hexkey:{key} -binary | base64 -w0)",
                f"curl -sS -X POST {url}"
                " -H 'content-type: application/json' -H \"webhook-id: $id\""
                ' -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig"'
                f" --data-binary @{body}",
            ]
        )


def deliver(session: requests.Session, delivery: Delivery, attempts: int = 3) -> dict[str, Any]:
    """POST a seeding delivery, sent again (same webhook-id, as a sender would) while the stack
    answers 503: a function past its timeout on a machine that is busy."""
    for _ in range(attempts):
        answer = delivery.post(session)
        if answer.status_code != 503:
            break
    if answer.status_code != 200:
        raise RuntimeError(f"seeding refused: {answer.status_code} {answer.text}")
    return dict(answer.json())


@dataclass
class Seeded:
    """Ids the API fuzz aims at: the organization's entries and another organization's."""

    org: str
    own: list[str]
    foreign: list[str]


def seed(session: requests.Session, url: str, secrets: dict[str, str], run: str) -> Seeded:
    """Deliver an organization, a card expiring next month on a scheduled payment, and failures
    (an installment, a one-time e-check, a refund) for the run's organization, and one failure
    for the other one (`organizations`)."""
    own, other = organizations(run)
    now = datetime.now(UTC)
    expiring = next_month(now, "UTC")  # the organization's time zone, below
    stamp = demo.rfc3339(now, timespec="milliseconds")

    def post(endpoint: str, name: str, org_id: str = own, **data: Any) -> None:
        event = sample_event(name)
        event["occurred_at"] = stamp
        merged = {**event["data"], "organization_id": org_id, **data}
        event["data"] = {key: value for key, value in merged.items() if value is not None}
        body = json.dumps(event, ensure_ascii=False).encode()
        deliver(session, Delivery(url, endpoint, secrets[endpoint], body))

    post(
        "billing",
        "webhooks_organization_upserted.json",
        time_zone="UTC",
        processor_account_id=stripe_account(run),
    )
    post(
        "billing",
        "webhooks_billing.json",
        exp_month=int(expiring[5:7]),
        exp_year=int(expiring[:4]),
    )
    post("billing", "webhooks_scheduled_payment_upserted.json")
    for number in range(3):
        post("payments", "webhooks_payments_failed.json", payment_id=f"pay_{run}_{number}")
    post(
        "payments",
        "webhooks_payments_failed.json",
        payment_id=f"pay_{run}_echeck",
        kind="one_time",
        method="echeck",
        payment_method={"token": "tok_echeck_pending"},
        scheduled_payment_id=None,
    )
    post("payments", "webhooks_refund_failed.json", payment_id=f"ref_{run}")
    post("payments", "webhooks_payments_failed.json", other, payment_id=f"pay_{run}_other")
    return Seeded(org=own, own=entry_ids(session, url, own), foreign=entry_ids(session, url, other))


def entry_ids(session: requests.Session, url: str, org_id: str) -> list[str]:
    token = mint_token(session, url, org_id)
    answer = session.get(
        f"{url}/transactions",
        params={"limit": 200},
        headers={"authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    answer.raise_for_status()
    return sorted(item["id"] for item in answer.json()["items"])


# ---------------------------------------------------------------------------------------------
# (1) The HTTP API, from openapi.json


def error_code_of_the_contract(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """A 4xx of the API function carries the `code` docs/contract.md §4.2 gives its status
    (API Gateway's own 401 `{"message": "Unauthorized"}` has none)."""
    codes = API_ERROR_CODES.get(response.status_code)
    if codes is None:
        return None
    body = response.json()
    if response.status_code == 401 and body == {"message": "Unauthorized"}:
        return None
    assert isinstance(body, dict) and body.get("code") in codes, (
        f"{response.status_code} should carry a code among {sorted(codes)}, got {body!r}"
    )
    assert isinstance(body.get("message"), str), f"{response.status_code} without a message"
    return None


def foreign_entry_is_not_found(foreign: set[str]) -> Callable[..., bool | None]:
    def another_organizations_entry_is_not_found(
        ctx: CheckContext, response: Any, case: Any
    ) -> bool | None:
        """docs/contract.md §4.2: an entry of another organization answers 404, never 403 (nor
        any answer but the refusals of a bad request, which do not depend on the entry)."""
        if (case.path_parameters or {}).get("id") in foreign:
            assert response.status_code in {400, 404, 422}, (
                f"another organization's entry answered {response.status_code}, not 404"
            )
        return None

    return another_organizations_entry_is_not_found


def readers_do_not_act(reader: str) -> Callable[..., bool | None]:
    def a_member_who_is_not_billing_admin_cannot_act(
        ctx: CheckContext, response: Any, case: Any
    ) -> bool | None:
        """docs/contract.md §4.2: any member may read; acting (retry, dismiss) needs
        billing_admin."""
        acting = case.method.upper() == "POST" and case.path.endswith(("/retry", "/dismiss"))
        if acting and (case.headers or {}).get("Authorization") == reader:
            assert response.status_code in {400, 403, 404, 422}, (
                f"a member without billing_admin got {response.status_code}"
            )
        return None

    return a_member_who_is_not_billing_admin_cannot_act


def api_checks(seeded: Seeded, reader: str) -> list[Callable[..., bool | None]]:
    return [
        not_a_server_error,
        openapi_checks.status_code_conformance,
        openapi_checks.content_type_conformance,
        openapi_checks.response_headers_conformance,
        openapi_checks.response_schema_conformance,
        openapi_checks.negative_data_rejection,
        openapi_checks.ignored_auth,
        error_code_of_the_contract,
        foreign_entry_is_not_found(set(seeded.foreign)),
        readers_do_not_act(reader),
    ]


def operation_cases(
    operation: Any, ids: list[str], admin: str, reader: str
) -> st.SearchStrategy[Any]:
    """Valid and invalid requests of a billing admin, valid ones of a member who is not; where
    the path names an entry, also valid requests on the seeded ids (a generated id is almost
    never one), by either."""

    def cases(mode: GenerationMode, token: str, **fixed: Any) -> st.SearchStrategy[Any]:
        return operation.as_strategy(mode, headers={"Authorization": token}, **fixed)

    strategies = [
        cases(GenerationMode.POSITIVE, admin),
        cases(GenerationMode.NEGATIVE, admin),
        cases(GenerationMode.POSITIVE, reader),
    ]
    if "{id}" in operation.path:
        strategies += [
            cases(GenerationMode.POSITIVE, token, path_parameters={"id": entry_id})
            for entry_id in ids
            for token in (admin, reader)
        ]
    return st.one_of(strategies)


def fuzz_api(
    url: str, tokens: tuple[str, str], seeded: Seeded, examples: int, seed_value: int, tally: Tally
) -> None:
    """`tokens`: a billing admin's and a member's without billing_admin, of `seeded.org`."""
    schema = schemathesis.openapi.from_path(OPENAPI)
    admin, reader = (f"Bearer {token}" for token in tokens)
    # Every case carries a token, so `ignored_auth` sends each 2xx again without it and with a
    # wrong one, and expects them refused.
    auth = {"Authorization": admin}
    checks = api_checks(seeded, reader)
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"

        def send(case: Any, label: str) -> None:
            response = case.call(base_url=url, session=session)
            tally.count(label, response.status_code)
            case.validate_response(response, checks=checks, headers=auth)

        cases = operation_cases(operation, seeded.own + seeded.foreign, admin, reader)
        record_failures(label, fuzz_test(cases, send, label, examples, seed_value), tally)


def fuzz_test(
    cases: st.SearchStrategy[Any],
    send: Callable[[Any, str], None],
    label: str,
    examples: int,
    seed_value: int,
) -> Callable[[], None]:
    """A hypothesis test that sends `examples` cases (then shrinks a failing one)."""

    @hypothesis.seed(seed_value)
    @settings(fuzz_settings(examples))
    @given(case=cases)
    def run(case: Any) -> None:
        send(case, label)

    return run


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )


def record_failures(label: str, run: Callable[[], None], tally: Tally) -> None:
    """Run one hypothesis test; each distinct failure it found (shrunk) joins the tally."""
    started = time.monotonic()
    failures = len(tally.failures)
    try:
        run()
    except hypothesis.errors.HypothesisException:
        raise  # a mistake of this tool, not a finding
    except (Exception, BaseExceptionGroup) as error:  # each failure is reported, none stops the run
        for leaf in leaves(error):
            tally.failures.append(f"{label}\n{leaf}")
    if tally.verbose:
        found = len(tally.failures) - failures
        print(
            f"  {label}: {tally.cases[label]} cases, {found} failure(s),"
            f" {time.monotonic() - started:.1f} s",
            flush=True,
        )


def leaves(error: BaseException) -> list[BaseException]:
    """The failures hypothesis reports: a group of distinct bugs, or one. schemathesis's own
    FailureGroup is one failing case, kept whole: its message holds the curl command."""
    if isinstance(error, BaseExceptionGroup) and type(error).__name__ != "FailureGroup":
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


# ---------------------------------------------------------------------------------------------
# (2) The webhooks: signed bodies, arbitrary and mutated


@dataclass(frozen=True)
class Body:
    """A fuzzed body and the statuses docs/contract.md §4.1 allows for it."""

    kind: str
    raw: bytes
    allowed: frozenset[int]


ANY_ANSWER = frozenset({200, 400, 409})
REFUSED = frozenset({400})
# docs/contract.md §4.1: a body that is not UTF-8 cannot be verified, its signature being over
# text: 401 and nothing else, however well it is signed.
UNVERIFIABLE = frozenset({401})

ODD_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "\u0000",
        "\u001f",
        "\t\n\r",
        "\ud800",  # a lone surrogate: json.dumps escapes it as \ud800
        "\udfff\ud800",
        "\u202eRTL",
        "\ufeffBOM",
        "😀" * 50,
        "e\u0301",  # a decomposed accent
        "null",
        "true",
        "1e309",
        "-0",
        "9007199254740993",
        "2026-02-30T25:61:61Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999+14:00",
        "2026-11-25T14:29:58.1234567891234Z",
        "{account_holder_id}",
        "http://",
        "javascript:alert(1)",
        "a" * 129,
        "x" * 10_000,
        "<script>alert(1)</script>",
        "'; DROP TABLE entries; --",
        "../../etc/passwd",
        "Éloïse",
        "#",
        "PK#x",
    ]
)
STRINGS = st.one_of(ODD_STRINGS, st.text(max_size=40), st.text(max_size=3000))
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1, 2**53 - 1, 2**53, -(2**53), 12.5, 1e300, -0.0, 13, 10**40]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(STRINGS, children, max_size=6)
    ),
    max_leaves=25,
)


def dumps(value: Any) -> bytes:
    """UTF-8 JSON; a lone surrogate, which UTF-8 cannot carry, as its \\u escape."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value, allow_nan=False).encode()


def breaks_i_json(value: Any) -> bool:
    """Whether a JSON value breaks a rule of docs/contract.md §4.1 (I-JSON, bounded) other than
    the depth: a string with a lone surrogate or a control character but tab, line feed and
    carriage return, an integer beyond ±(2^53 - 1), a number literal over 32 characters."""
    if isinstance(value, dict):
        return any(breaks_i_json(key) or breaks_i_json(inner) for key, inner in value.items())
    if isinstance(value, list):
        return any(map(breaks_i_json, value))
    if isinstance(value, str):
        return any(
            (ord(char) < 0x20 and char not in "\t\n\r") or 0xD800 <= ord(char) <= 0xDFFF
            for char in value
        )
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int) and abs(value) > 2**53 - 1:
        return True
    return len(json.dumps(value)) > MAX_NUMBER_LITERAL


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON value (keys and indexes), the value's own () first."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths(inner, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = replaced(value[head], tuple(rest), new)
    return copy


def removed(value: Any, path: tuple[Any, ...]) -> Any:
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    if rest:
        copy[head] = removed(value[head], tuple(rest))
    elif isinstance(copy, dict):
        del copy[head]
    else:
        copy.pop(head)
    return copy


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def nested(value: Any, levels: int, as_object: bool) -> Any:
    for _ in range(levels):
        value = {"a": value} if as_object else [value]
    return value


@st.composite
def valid_events(draw: st.DrawFn, endpoint: str, org: str) -> dict[str, Any]:
    """A sample event of the endpoint, now, for `org`, with a fresh payment id."""
    event = sample_event(draw(st.sampled_from(WEBHOOK_SAMPLES[endpoint])))
    if endpoint == "stripe":
        return stripe_event(event, org, draw(st.integers(0, 10**6)))
    event["occurred_at"] = demo.rfc3339(datetime.now(UTC), timespec="milliseconds")
    event["data"]["organization_id"] = org
    if "payment_id" in event["data"]:
        event["data"]["payment_id"] = f"pay_fuzz_{draw(st.integers(0, 10**6))}"
    return event


def stripe_event(event: dict[str, Any], org: str, number: int) -> dict[str, Any]:
    """A Stripe sample as Stripe would send it now for `org`'s connected account."""
    event["id"] = f"evt_fuzz_{uuid.uuid4().hex}"
    event["created"] = int(time.time())
    event["account"] = stripe_account(org.removeprefix("org_fuzz_"))
    event["data"]["object"]["id"] = f"pi_fuzz_{number}"
    event["data"]["object"]["metadata"]["organization_id"] = org
    return event


def value_body(value: Any, kind: str) -> Body:
    """A JSON value's body: an object may be accepted, ignored or refused; anything else, and
    anything deeper than 32 levels, is refused (I-JSON, docs/contract.md §4.1)."""
    raw = dumps(value)
    if len(raw) > MAX_BODY:
        return Body(kind, raw, frozenset({413}))
    if not isinstance(value, dict) or depth(value) > MAX_DEPTH or breaks_i_json(value):
        return Body(kind, raw, REFUSED)
    return Body(kind, raw, ANY_ANSWER)


@st.composite
def mutated_value(draw: st.DrawFn, endpoint: str, org: str) -> Body:
    """A valid event with one field replaced, removed or nested deep."""
    event = draw(valid_events(endpoint, org))
    path = draw(st.sampled_from(list(paths(event))))
    how = draw(st.sampled_from(["replace", "remove", "nest"]))
    if how == "remove" and path:
        return value_body(removed(event, path), f"{how} {'.'.join(map(str, path))}")
    if how == "nest":
        old = event
        for key in path:
            old = old[key]
        levels = draw(st.integers(1, 40))
        deep = nested(old, levels, draw(st.booleans()))
        return value_body(replaced(event, path, deep), f"nest {levels} {'.'.join(map(str, path))}")
    return value_body(
        replaced(event, path, draw(JSON_VALUES)), f"replace {'/'.join(map(str, path))}"
    )


# Each breaks a valid event's bytes (`raw`, of `event`) one way, saying what the contract answers.
type Breakage = Callable[[st.DrawFn, dict[str, Any], bytes], Body]


def duplicate_name(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    name = draw(st.sampled_from(["type", "occurred_at", "data"]))
    value = dumps(draw(st.sampled_from([event[name], "x", 1, None])))
    return Body("duplicate_name", b'{"' + name.encode() + b'":' + value + b"," + raw[1:], REFUSED)


def not_utf8(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    at = draw(st.integers(0, len(raw)))
    junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80"]))
    return Body("not_utf8", raw[:at] + junk + raw[at:], UNVERIFIABLE)


def latin1(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    text = raw.decode().replace('"type"', '"typé"', 1)
    return Body("latin1", text.encode("latin-1", "replace"), UNVERIFIABLE)


def cut(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    return Body("cut", raw[: draw(st.integers(0, len(raw) - 1))], REFUSED)


def byte_order_mark(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    return Body("byte_order_mark", b"\xef\xbb\xbf" + raw, frozenset({200, 400}))


def long_number(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    literal = b"1" * draw(st.integers(33, 400))
    return Body("long_number", b'{"n":' + literal + b"," + raw[1:], REFUSED)


def not_finite(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    literal = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e400"]))
    return Body("not_finite", b'{"n":' + literal + b"," + raw[1:], REFUSED)


def trailing(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    return Body("trailing", raw + draw(st.sampled_from([b"x", b"{}", b",", b"\x00"])), REFUSED)


def control_character(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    at = raw.index(b'"type": "') + len(b'"type": "')
    char = draw(st.sampled_from([b"\x00", b"\x01", b"\x1f", b"\x7f"]))
    allowed = ANY_ANSWER if char == b"\x7f" else REFUSED  # DEL is not a control character here
    return Body("control_character", raw[:at] + char + raw[at:], allowed)


def not_an_object(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    other = draw(st.sampled_from([b"", b" ", b"null", b"[]", b'""', b"[" + raw + b"]"]))
    return Body("not_an_object", other, REFUSED)


def oversized(draw: st.DrawFn, event: dict[str, Any], raw: bytes) -> Body:
    padding = b" " * (MAX_BODY + 1 - len(raw) + draw(st.integers(0, 4096)))
    return Body("oversized", raw[:-1] + padding + b"}", frozenset({413}))


BREAKAGES: list[Breakage] = [
    duplicate_name,
    not_utf8,
    latin1,
    cut,
    byte_order_mark,
    long_number,
    not_finite,
    trailing,
    control_character,
    not_an_object,
    oversized,
]


@st.composite
def mutated_bytes(draw: st.DrawFn, endpoint: str, org: str) -> Body:
    """A valid event's bytes broken as I-JSON forbids, or oversized (docs/contract.md §4.1)."""
    event = draw(valid_events(endpoint, org))
    breakage = draw(st.sampled_from(BREAKAGES))
    return breakage(draw, event, dumps(event))


def webhook_cases(endpoint: str, org: str) -> st.SearchStrategy[Body]:
    return st.one_of(
        valid_events(endpoint, org).map(
            lambda event: Body("valid", dumps(event), frozenset({200}))
        ),
        JSON_VALUES.map(lambda value: value_body(value, "json value")),
        mutated_value(endpoint, org),
        mutated_bytes(endpoint, org),
    )


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_webhook_answer(body: Body, answer: requests.Response) -> None:
    """docs/contract.md §4.1: a documented status, the body it gives, and the status the contract
    gives this body."""
    assert answer.status_code < 500, f"server error {answer.status_code}: {answer.text[:500]}"
    allowed = body.allowed if is_utf8(body.raw) else UNVERIFIABLE
    assert answer.status_code in allowed, (
        f"{body.kind}: answered {answer.status_code}, expected one of {sorted(allowed)}:"
        f" {answer.text[:500]}"
    )
    assert answer.headers.get("content-type", "").startswith("application/json"), (
        f"content-type {answer.headers.get('content-type')!r}"
    )
    payload = answer.json()
    assert isinstance(payload, dict), f"a body that is not an object: {payload!r}"
    if answer.status_code == 200:
        assert payload.get("status") in WEBHOOK_OK, f"200 with {payload!r}"
    else:
        expected = WEBHOOK_ANSWERS[answer.status_code]
        assert payload.get("code") == expected, f"{answer.status_code} without code {expected}"
        assert isinstance(payload.get("message"), str), f"{answer.status_code} without a message"


class WebhookFailure(AssertionError):
    """A webhook answer outside the contract, with the shell lines that reproduce it."""


def fuzz_webhooks(url: str, org: str, examples: int, seed_value: int, tally: Tally) -> None:
    """Bodies for `org` (the valid and mutated events), signed and posted to each endpoint."""
    session = requests.Session()
    secrets = demo.webhook_secrets(session, url) | {"stripe": config.STRIPE_WEBHOOK_SECRET}
    for endpoint in WEBHOOK_ENDPOINTS:
        label = f"POST /webhooks/{endpoint}"

        def send(body: Body, label: str, endpoint: str = endpoint) -> None:
            delivery = Delivery(url, endpoint, secrets[endpoint], body.raw)
            answer = delivery.post(session)
            tally.count(label, answer.status_code)
            try:
                check_webhook_answer(body, answer)
            except (AssertionError, ValueError) as error:
                raise WebhookFailure(f"{error}\n{delivery.reproduction()}") from None

        cases = webhook_cases(endpoint, org)
        record_failures(label, fuzz_test(cases, send, label, examples, seed_value), tally)


# ---------------------------------------------------------------------------------------------


def fuzz(url: str, examples: int, seed_value: int, run: str, verbose: bool = False) -> Tally:
    """Seed (organizations and payment ids named after `run`), then fuzz the API and the
    webhooks at `url`."""
    tally = Tally(verbose=verbose)
    session = requests.Session()
    seeded = seed(session, url, demo.webhook_secrets(session, url), run)
    tokens = (
        mint_token(session, url, seeded.org),
        mint_token(session, url, seeded.org, groups=("member",)),
    )
    fuzz_api(url, tokens, seeded, examples, seed_value, tally)
    fuzz_webhooks(url, seeded.org, examples, seed_value, tally)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="cases per operation (100)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="hypothesis seed")
    parser.add_argument("--url", help="a running local stack (default: start one on free ports)")
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    with local_stack(arguments.url) as url:
        print(f"fuzzing {url}: {arguments.examples} examples per operation, seed {arguments.seed}")
        # On a stack of its own the run is the same for the same seed; a running stack may
        # hold a previous run's organizations and entries, so its organizations are new.
        run = uuid.uuid4().hex[:8] if arguments.url else f"s{arguments.seed}"
        tally = fuzz(url, arguments.examples, arguments.seed, run, verbose=True)
    print(tally.summary(time.monotonic() - started))
    for number, failure in enumerate(tally.failures, 1):
        print(f"\n--- failure {number} ---\n{failure}")
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
