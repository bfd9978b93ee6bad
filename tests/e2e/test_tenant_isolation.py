"""Tenant isolation over HTTP on the local stack (docs/contract.md §4.2): two organizations, A and
B, each with entries (signed failure webhooks), expiring cards and an admin's preferences.

- Every (method, path) of openapi.json is exercised; a route or a parameter this file does not
  know fails `test_every_documented_route_and_parameter_is_known`, so a new one cannot escape.
- B, with A's ids in every id-bearing place (path ids, `cursor`, `Idempotency-Key`, the
  unsubscribe link's `o`/`u`), gets 404 (400 `invalid_cursor` for a cursor) and A's data, read
  back with A's token, is as it was: entries and audit, no retry, no charge, no bus event.
- Refused tokens on every secured route: 401 (403 for a member without billing_admin on an
  action), never a 5xx, never data, nothing changed.
- Every answer is JSON: a success validates against its openapi.json schema, an error is
  §4.2's `{"code", "message"}` with the code of its status.

Tokens with claims the identity provider would never put in (no `sub`, `exp` as a string...) are
signed with the provider's own key, read from the running provider (local/oidc.py), so that only
the claim is wrong; "another key" is an RSA key made here.
"""

import base64
import functools
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jsonschema import Draft202012Validator

from local import config
from local.stack import LocalStack
from payment_action_center.app.preferences import unsubscribe_signature
from payment_action_center.app.transactions import entry_filter
from payment_action_center.domain import timestamps
from payment_action_center.domain.cards import next_month
from payment_action_center.domain.listing import Position, encode_cursor, encode_opaque
from tests.e2e import conftest
from tests.e2e.conftest import Api
from tests.shared import factories

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "openapi.json").read_text())
OPERATIONS = sorted(
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method in operations
)
TIME_ZONE = "America/Toronto"
SHARED_SUB = "user_shared"  # A's admin and B's admin have the same `sub`: only org_id tells them
ERROR_CODES = {
    400: {"invalid_json", "invalid_cursor", "bad_request", "invalid_period"},
    401: {"unauthorized"},
    403: {"forbidden"},
    404: {"not_found"},
    409: {"conflict"},
    422: {"validation_error"},
}


# ----------------------------------------------------------------------------- the two tenants


@dataclass
class Tenant:
    org: str
    admin: str  # billing_admin, sub SHARED_SUB
    reader: str  # a member without billing_admin
    entries: dict[str, str] = field(default_factory=dict)  # name -> entry id
    holders: set[str] = field(default_factory=set)
    payment_ids: set[str] = field(default_factory=set)


@dataclass
class World:
    api: Api
    stack: LocalStack
    a: Tenant
    b: Tenant
    signer: "Signer"
    a_idempotency_key: str
    a_first_retry: dict[str, Any]  # A's cached answer for that key
    a_cursors: dict[str, str]  # route -> a cursor A was given
    unsubscribe_key: bytes
    month: str
    baseline: "Snapshot | None" = None

    def a_ids(self) -> set[str]:
        return set(self.a.entries.values())


@dataclass(frozen=True)
class Snapshot:
    """What A sees of its own data, read with A's token."""

    details: dict[str, Any]
    listing: list[str]
    preferences: Any
    organization: Any
    cards: Any
    retry_policy: Any
    charges: list[dict[str, Any]]
    events: list[dict[str, Any]]


class Signer:
    """Tokens as the local identity provider signs them, with any claims."""

    def __init__(self, stack: LocalStack) -> None:
        self.issuer = stack.identity.issuer
        # The provider (oidc-provider-mock) keeps its one key in the storage its Flask app puts on
        # `flask.g` before each request: a request context gives it to us.
        server = stack.identity._server
        assert server is not None, "the identity provider is not running"
        provider = server.app.app  # werkzeug server -> PkceCheck -> the provider's Flask app
        with provider.test_request_context("/"):
            provider.preprocess_request()
            jwk = flask.g.oidc_provider_mock_storage.jwk
        self.key = serialization.load_pem_private_key(jwk.as_pem(private=True), password=None)
        jwks_uri = requests.get(
            f"{self.issuer}/.well-known/openid-configuration", timeout=10
        ).json()["jwks_uri"]
        [published] = requests.get(jwks_uri, timeout=10).json()["keys"]
        self.kid = str(published["kid"])
        assert jwt.PyJWK(published).key.public_numbers() == self.key.public_key().public_numbers()

    def claims(self, org: str, **changes: Any) -> dict[str, Any]:
        """A billing admin's claims for `org`; a change to None removes that claim."""
        now = int(time.time())
        base = {
            "iss": self.issuer,
            "aud": [config.JWT_AUDIENCE],
            "sub": "user_forged",
            "email": "forged@example.com",
            "org_id": org,
            "groups": ["billing_admin"],
            "iat": now,
            "exp": now + 3600,
        }
        return {k: v for k, v in (base | changes).items() if v is not None}

    def sign(self, claims: dict[str, Any], key: Any = None) -> str:
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(signer: Signer, claims: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": signer.kid}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hs256_keyed_with_the_public_key(signer: Signer, claims: dict[str, Any]) -> str:
    """The algorithm-confusion token: HMAC keyed with the provider's public key (PEM)."""
    secret = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signer.kid}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(mac)}"


OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

# name -> (the Authorization header, from the signer and A's organization; what it gets)
# "401": refused; "as_org:<org>": taken as that (empty) organization, never A's.
BadToken = Callable[[Signer, str], str | None]
BAD_TOKENS: dict[str, tuple[BadToken, str]] = {
    "no token": (lambda s, org: None, "401"),
    "not a JWT": (lambda s, org: "Bearer not-a-jwt", "401"),
    "no org_id": (lambda s, org: "Bearer " + s.sign(s.claims(org, org_id=None)), "401"),
    "org_id a list": (lambda s, org: "Bearer " + s.sign(s.claims(org, org_id=[org])), "401"),
    "org_id a list of two": (
        lambda s, org: "Bearer " + s.sign(s.claims(org, org_id=[org, "org_b"])),
        "401",
    ),
    "org_id empty": (lambda s, org: "Bearer " + s.sign(s.claims(org, org_id="")), "401"),
    "org_id an object": (
        lambda s, org: "Bearer " + s.sign(s.claims(org, org_id={"id": org})),
        "401",
    ),
    # HTTP API hands every claim over as a string (local/auth.py claim_text): 4242 arrives as
    # "4242", a well-formed organization id, indistinguishable from the string claim.
    "org_id an int": (lambda s, org: "Bearer " + s.sign(s.claims(org, org_id=4242)), "as_org:4242"),
    "no sub": (lambda s, org: "Bearer " + s.sign(s.claims(org, sub=None)), "401"),
    "sub empty": (lambda s, org: "Bearer " + s.sign(s.claims(org, sub="")), "401"),
    "another RSA key": (
        lambda s, org: "Bearer " + s.sign(s.claims(org), key=OTHER_KEY),
        "401",
    ),
    "alg none": (lambda s, org: "Bearer " + unsigned(s, s.claims(org)), "401"),
    "HS256 keyed with the public key": (
        lambda s, org: "Bearer " + hs256_keyed_with_the_public_key(s, s.claims(org)),
        "401",
    ),
    "expired": (
        lambda s, org: "Bearer " + s.sign(s.claims(org, exp=int(time.time()) - 60)),
        "401",
    ),
    "not yet valid": (
        lambda s, org: "Bearer " + s.sign(s.claims(org, nbf=int(time.time()) + 600)),
        "401",
    ),
    "wrong issuer": (
        # the same provider, reached as localhost: another issuer, the same key
        lambda s, org: (
            "Bearer " + s.sign(s.claims(org, iss=s.issuer.replace("127.0.0.1", "localhost")))
        ),
        "401",
    ),
    "wrong audience": (
        lambda s, org: "Bearer " + s.sign(s.claims(org, aud=["another-client"])),
        "401",
    ),
    "exp a numeric string": (
        lambda s, org: "Bearer " + s.sign(s.claims(org, exp=str(int(time.time()) + 3600))),
        "401",
    ),
    # The contract takes groups as a list or a space- or comma-separated string: a string that
    # does not name billing_admin exactly is a member who may read, not act.
    "groups a string without billing_admin": (
        lambda s, org: "Bearer " + s.sign(s.claims(org, groups="billing_admins, reader")),
        "member",
    ),
}


# ----------------------------------------------------------------------------- answers


def documented(answer: requests.Response, method: str, path: str) -> Any:
    """The answer's JSON, once checked against the document: a success against its schema in
    openapi.json, an error as §4.2's {"code", "message"}; never a 5xx."""
    where = f"{method} {path} -> {answer.status_code} {answer.text[:300]}"
    assert answer.status_code < 500, where
    assert answer.headers.get("content-type", "").startswith("application/json"), where
    body = answer.json()
    if answer.status_code >= 400:
        assert isinstance(body, dict), where
        assert body.get("code") in ERROR_CODES[answer.status_code], where
        assert isinstance(body.get("message"), str) and body["message"], where
        allowed = {"code", "message"} | ({"errors"} if answer.status_code == 422 else set())
        assert set(body) <= allowed, where
        responses = DOCUMENT["paths"][path][method.lower()]["responses"]
        assert str(answer.status_code) in responses, f"undocumented status: {where}"
        return body
    errors = list(validator(method, path, answer.status_code).iter_errors(body))
    assert not errors, f"{where}: {[e.message for e in errors][:3]}"
    return body


@functools.cache
def validator(method: str, path: str, status: int) -> Draft202012Validator:
    """The schema openapi.json gives this route's answer with this status."""
    documented_answer = DOCUMENT["paths"][path][method.lower()]["responses"].get(str(status))
    assert documented_answer is not None, f"{method} {path}: {status} is not documented"
    schema = documented_answer.get("content", {}).get("application/json", {}).get("schema", {})
    return Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def call(
    world: World,
    method: str,
    path: str,
    authorization: str | None,
    *,
    url: str | None = None,
    **kwargs: Any,
) -> tuple[int, Any]:
    """One request (`url` the concrete path, `path` the documented one); status and checked
    body."""
    headers = dict(kwargs.pop("headers", None) or {})
    if authorization is not None:
        headers["authorization"] = authorization
    answer = world.api.request(method, url or path, headers=headers, **kwargs)
    return answer.status_code, documented(answer, method, path)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def all_pages(
    world: World, path: str, authorization: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every item of every page of a list route."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = dict(params or {}) | ({"cursor": cursor} if cursor else {})
        status, page = call(world, "GET", path, authorization, params=query)
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{path}: more than 100 pages")


def snapshot(world: World) -> Snapshot:
    """A's data as A reads it, once the queues are idle (a retry enqueued by mistake would have
    been charged by then)."""
    assert world.stack.wait_for_queues_idle(30), "the queues were still busy after 30 s"
    a = bearer(world.a.admin)
    details = {}
    for entry_id in sorted(world.a_ids()):
        url = f"/transactions/{entry_id}"
        details[entry_id] = call(world, "GET", "/transactions/{id}", a, url=url)
    ids = world.a_ids()
    return Snapshot(
        details=details,
        listing=[item["id"] for item in all_pages(world, "/transactions", a)],
        preferences=call(world, "GET", "/me/notification-preferences", a),
        organization=call(world, "GET", "/organization", a),
        cards=all_pages(world, "/expiring-cards", a),
        retry_policy=call(world, "GET", "/retry-policy", a),
        charges=[
            c for c in world.api.sandbox_charges() if c["idempotency_key"].split(":")[0] in ids
        ],
        events=[
            e
            for e in world.api.local_events()
            if e["detail"].get("transaction_id") in ids
            or e["detail"].get("organization_id") == world.a.org
        ],
    )


def assert_a_unchanged(world: World) -> None:
    assert world.baseline is not None
    after = snapshot(world)
    for name in Snapshot.__dataclass_fields__:
        assert getattr(after, name) == getattr(world.baseline, name), f"A's {name} changed"


def leaked(world: World, body: Any) -> set[str]:
    """A's ids, organization or holders found anywhere in an answer B got."""
    text = json.dumps(body)
    marks = world.a_ids() | {world.a.org} | world.a.holders
    return {mark for mark in marks if mark in text}


# ----------------------------------------------------------------------------- setup


def signed_post(api: Api, endpoint: str, body: dict[str, Any]) -> Any:
    """conftest's `signed_post` (the `world` fixture outlives the `post_webhook` one), accepted."""
    answer = conftest.signed_post(api, endpoint, body)
    assert answer.json() == {"status": "accepted"}, answer.text
    return answer


def mint(api: Api, org: str, sub: str, groups: list[str], email: str) -> str:
    return conftest.mint_token(api, org, groups, sub=sub, email=email)


# Each organization's failures, by name: (payment id, kind, method, token). B reuses A's payment
# ids (they are the processor's, per organization): only the organization keeps them apart.
A_FAILURES = {
    "retried": ("pay_iso_1", "installment", "credit_card", "tok_success"),
    "installment": ("pay_iso_2", "installment", "credit_card", "tok_success"),
    "refund": ("pay_iso_3", "refund", "credit_card", "tok_success"),
    "subscription": ("pay_iso_4", "subscription", "echeck", "tok_success"),
}
B_FAILURES = {
    "retried": ("pay_iso_1", "installment", "credit_card", "tok_success"),
    "installment": ("pay_iso_2", "installment", "credit_card", "tok_success"),
    "refund": ("pay_iso_3", "refund", "credit_card", "tok_success"),
    "other": ("pay_iso_b5", "subscription", "echeck", "tok_success"),
}


def seed(
    api: Api, tenant: Tenant, failures: dict[str, tuple[str, str, str, str]], tag: str
) -> None:
    settings = factories.organization_upserted(
        data__organization_id=tenant.org,
        data__name=f"Organisation {tag}",
        data__time_zone=TIME_ZONE,
        data__locale="fr-CA",
    )
    signed_post(api, "billing", settings)
    for n, (payment_id, kind, method, token) in enumerate(failures.values()):
        holder = f"ah_iso_{tag}_{n}"
        make = factories.refund_failed if kind == "refund" else factories.payment_failed
        body = make(
            data__organization_id=tenant.org,
            data__payment_id=payment_id,
            data__kind=kind,
            data__method=method,
            data__payment_method={"token": token},
            data__account_holder={
                "id": holder,
                "name": f"Titulaire {tag} {n}",
                "email": f"{holder}@example.com",
            },
            occurred_at=f"2026-11-2{n}T15:30:00Z",
        )
        signed_post(api, "payments", body)
        tenant.holders.add(holder)
        tenant.payment_ids.add(payment_id)
    month, year = (
        int(part) for part in reversed(next_month(datetime.now(UTC), TIME_ZONE).split("-"))
    )
    for n in (1, 2):  # the same card and schedule ids in both organizations
        card = factories.card_upserted(
            data__organization_id=tenant.org,
            data__card_id=f"card_iso_{n}",
            data__account_holder={
                "id": f"ah_iso_{tag}_card_{n}",
                "name": f"Carte {tag} {n}",
                "email": f"card{n}@{tag}.example",
            },
            data__last4="1111" if tag == "A" else "2222",
            data__exp_month=month,
            data__exp_year=year,
        )
        tenant.holders.add(f"ah_iso_{tag}_card_{n}")
        signed_post(api, "billing", card)
        linked = factories.scheduled_payment_upserted(
            data__organization_id=tenant.org,
            data__scheduled_payment_id=f"sp_iso_{n}",
            data__payment_method={"token": "tok_success", "card_id": f"card_iso_{n}"},
            data__account_holder={
                "id": f"ah_iso_{tag}_card_{n}",
                "name": f"Carte {tag} {n}",
                "email": f"card{n}@{tag}.example",
            },
            occurred_at="2026-11-22T00:00:00Z",
        )
        signed_post(api, "billing", linked)
    page = api.get("/transactions", tenant.admin, params={"limit": 50}).json()
    ids = {item["payment_id"]: item["id"] for item in page["items"]}
    tenant.entries = {name: ids[payment_id] for name, (payment_id, *_) in failures.items()}


def seed_a(api: Api, a: Tenant, key: str) -> requests.Response:
    """A's data, A's admin opted in to the digest in en-CA, and one entry retried with an
    Idempotency-Key (its answer cached under that key): A's first answer."""
    seed(api, a, A_FAILURES, "A")
    wanted = {"failed_transactions_digest": True, "locale": "en-CA"}
    assert api.request("PUT", "/me/notification-preferences", a.admin, json=wanted).ok
    # A policy of A's own (left off: no watchdog run of the suite retries A's entries).
    policy = {"enabled": False, "days": [2, 5], "local_time": "07:45"}
    assert api.request("PUT", "/retry-policy", a.admin, json=policy).ok
    first = api.post(
        f"/transactions/{a.entries['retried']}/retry", a.admin, headers={"idempotency-key": key}
    )
    assert first.status_code == 202, first.text
    return first


@pytest.fixture(scope="module")
def world(api: Api, stack: LocalStack) -> Iterator[World]:
    run = uuid.uuid4().hex[:8]
    a = Tenant(
        org=f"org_iso_a_{run}",
        admin=mint(api, f"org_iso_a_{run}", SHARED_SUB, ["billing_admin"], "admin@a.example"),
        reader=mint(api, f"org_iso_a_{run}", "user_a_reader", ["reader"], "reader@a.example"),
    )
    b = Tenant(
        org=f"org_iso_b_{run}",
        admin=mint(api, f"org_iso_b_{run}", SHARED_SUB, ["billing_admin"], "admin@b.example"),
        reader=mint(api, f"org_iso_b_{run}", "user_b_reader", ["reader"], "reader@b.example"),
    )
    key = f"click-{run}"

    def seed_apart(seeding: Callable[..., Any], *args: Any) -> Any:
        with api.fresh() as mine:  # a requests session is not thread-safe: one per thread
            return seeding(mine, *args)

    with ThreadPoolExecutor(2) as pool:  # the two organizations side by side
        a_seeded = pool.submit(seed_apart, seed_a, a, key)
        b_seeded = pool.submit(seed_apart, seed, b, B_FAILURES, "B")
        first, _ = a_seeded.result(), b_seeded.result()
    a_cursors = {}
    for path in ("/transactions", "/expiring-cards"):
        page = api.get(path, a.admin, params={"limit": 1}).json()
        assert page["next_cursor"], (path, page)
        a_cursors[path] = page["next_cursor"]
    secrets = stack.endpoints.client("secretsmanager")
    key_text = secrets.get_secret_value(SecretId=stack.values.refs["UnsubscribeSecret"])
    built = World(
        api=api,
        stack=stack,
        a=a,
        b=b,
        signer=Signer(stack),
        a_idempotency_key=key,
        a_first_retry=first.json(),
        a_cursors=a_cursors,
        unsubscribe_key=key_text["SecretString"].encode(),
        month=next_month(datetime.now(UTC), TIME_ZONE),
    )
    built.baseline = snapshot(built)
    # the setup did what the tests rely on
    assert built.baseline.details[a.entries["retried"]][1]["status"] == "recovered"
    assert sorted(built.baseline.listing) == sorted(
        a.entries[n] for n in ("installment", "refund", "subscription")
    )
    assert built.baseline.preferences[1] == {"failed_transactions_digest": True, "locale": "en-CA"}
    assert len(built.baseline.cards) == 2 and len(built.baseline.charges) == 1
    yield built


# ----------------------------------------------------------------------------- the routes

# Roles of the documented parameters and body fields that name something of a tenant.
ENTRY, CURSOR, IDEMPOTENCY_KEY, HOLDER, SEARCH, ORGANIZATION, USER = (
    "entry",
    "cursor",
    "idempotency_key",
    "account_holder",
    "search",
    "organization",
    "user",
)


@dataclass(frozen=True)
class RouteUse:
    """How this file exercises a route: the role of each documented parameter or body field
    that names a tenant's thing (`ids`), the others it knows name nothing (`plain`), how B
    attacks A's data with it (`attack`: returns the names it exercised), and how any token is
    tried on A's data (`probe`, None for a public route)."""

    ids: dict[str, str]
    plain: frozenset[str]
    attack: Callable[[World], set[str]]
    probe: Callable[[World, str | None], tuple[int, Any]] | None
    admin: bool = False


def expect(
    world: World, status: int, body: Any, wanted: int, code: str, what: str, sent: str = ""
) -> None:
    """The answer is `wanted` with `code`, and names nothing of A's but what B sent."""
    assert (status, body.get("code")) == (wanted, code), f"{what}: {status} {body}"
    assert not leaked(world, body) - {sent}, f"{what}: A's ids in {body}"


def attack_detail(world: World) -> set[str]:
    for token in (world.b.admin, world.b.reader):
        for entry_id in world.a_ids():
            url = f"/transactions/{entry_id}"
            status, body = call(world, "GET", "/transactions/{id}", bearer(token), url=url)
            expect(world, status, body, 404, "not_found", f"B reads {url}", entry_id)
    return {"id"}


def attack_retry(world: World) -> set[str]:
    b, key = bearer(world.b.admin), {"idempotency-key": world.a_idempotency_key}
    for entry_id in world.a_ids():
        url = f"/transactions/{entry_id}/retry"
        for headers in ({}, key):  # A's key, on the very request A made with it too
            status, body = call(
                world, "POST", "/transactions/{id}/retry", b, url=url, headers=headers
            )
            expect(world, status, body, 404, "not_found", f"B retries {url}", entry_id)
    # B's own entry with A's key: B's own answer, never A's cached one.
    own = world.b.entries["retried"]
    status, body = call(
        world, "POST", "/transactions/{id}/retry", b, url=f"/transactions/{own}/retry",
        headers=key,
    )  # fmt: skip
    assert (status, body["id"], body["status"]) == (202, own, "retry_pending"), body
    assert not leaked(world, body)
    # ...while A still gets its cached answer for that key (the cache is there to leak).
    a_url = f"/transactions/{world.a.entries['retried']}/retry"
    again = world.api.post(a_url, world.a.admin, headers=key)
    assert (again.status_code, again.json()) == (202, world.a_first_retry)
    return {"id", "idempotency-key"}


def attack_dismiss(world: World) -> set[str]:
    for entry_id in world.a_ids():
        url = f"/transactions/{entry_id}/dismiss"
        for body in (None, {"reason": "not ours"}):
            status, answer = call(
                world, "POST", "/transactions/{id}/dismiss", bearer(world.b.admin), url=url,
                json=body,
            )  # fmt: skip
            expect(world, status, answer, 404, "not_found", f"B dismisses {url}", entry_id)
    return {"id"}


def attack_link(world: World) -> set[str]:
    for entry_id in world.a_ids():
        url = f"/transactions/{entry_id}/payment-method-link"
        path = "/transactions/{id}/payment-method-link"
        status, body = call(world, "GET", path, bearer(world.b.admin), url=url)
        expect(world, status, body, 404, "not_found", f"B asks {url}", entry_id)
    return {"id"}


def b_pages_hold_no_a_id(world: World, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items = all_pages(world, path, bearer(world.b.admin), params)
    assert not leaked(world, items), f"{path} {params}: A's data in B's pages"
    return items


def attack_list(world: World) -> set[str]:
    b = bearer(world.b.admin)
    # A's cursor, and one with B's own fingerprint pointing at A's entry: never A's page.
    position = world.baseline.details[world.a.entries["installment"]][1] if world.baseline else {}
    forged = encode_cursor(
        Position(timestamps.canonical(position["failed_at"]), position["id"]),
        entry_filter().fingerprint(world.b.org),
    )
    status, body = call(
        world, "GET", "/transactions", b, params={"cursor": world.a_cursors["/transactions"]}
    )
    expect(world, status, body, 400, "invalid_cursor", "B pages on with A's cursor")
    status, body = call(world, "GET", "/transactions", b, params={"cursor": forged, "limit": 1})
    assert status in (200, 400) and not leaked(world, body), (status, body)
    # The same, bound to a time range that A's entry is outside of: no page starts there.
    window = {"from": "2026-11-23T00:00:00Z", "to": "2026-11-30T00:00:00Z"}
    bound = entry_filter(failed_from=window["from"], failed_to=window["to"])
    forged = encode_cursor(
        Position(timestamps.canonical(position["failed_at"]), position["id"]),
        bound.fingerprint(world.b.org),
    )
    status, body = call(world, "GET", "/transactions", b, params=window | {"cursor": forged})
    expect(world, status, body, 400, "invalid_cursor", "B's cursor outside its own range")
    # Every page of B's table, B's searches for A's holders and A's payment ids (B has the same
    # payment ids: it finds only its own entries).
    listed = b_pages_hold_no_a_id(world, "/transactions", {"limit": 2})
    assert {item["id"] for item in listed} <= set(world.b.entries.values())
    assert len(listed) >= 3
    for holder in sorted(world.a.holders):
        assert b_pages_hold_no_a_id(world, "/transactions", {"account_holder_id": holder}) == []
    for payment_id in sorted(world.a.payment_ids):
        found = b_pages_hold_no_a_id(world, "/transactions", {"q": payment_id, "limit": 1})
        assert {item["id"] for item in found} <= set(world.b.entries.values())
    return {"cursor", "account_holder_id", "q"}


def attack_cards(world: World) -> set[str]:
    b = bearer(world.b.admin)
    status, body = call(
        world, "GET", "/expiring-cards", b, params={"cursor": world.a_cursors["/expiring-cards"]}
    )
    expect(world, status, body, 400, "invalid_cursor", "B pages on with A's cursor")
    # B's own fingerprint, A's organization in the position.
    forged = encode_opaque(f"{world.b.org}#{world.month}", world.a.org, "card_iso_1")
    status, body = call(world, "GET", "/expiring-cards", b, params={"cursor": forged})
    expect(world, status, body, 400, "invalid_cursor", "B's cursor naming A's card")
    items = b_pages_hold_no_a_id(world, "/expiring-cards", {"limit": 1})
    assert sorted(item["last4"] for item in items) == ["2222", "2222"], items
    return {"cursor"}


def attack_organization(world: World) -> set[str]:
    for token in (world.b.admin, world.b.reader):
        status, body = call(world, "GET", "/organization", bearer(token))
        assert (status, body["id"], body["name"]) == (200, world.b.org, "Organisation B")
    return set()


def attack_get_preferences(world: World) -> set[str]:
    status, body = call(world, "GET", "/me/notification-preferences", bearer(world.b.admin))
    assert status == 200 and body != {"failed_transactions_digest": True, "locale": "en-CA"}
    return set()


def attack_put_preferences(world: World) -> set[str]:
    # B's admin, with A's admin's sub, changes only B's own preferences.
    wanted = {"failed_transactions_digest": False, "locale": "fr-CA"}
    status, body = call(
        world, "PUT", "/me/notification-preferences", bearer(world.b.admin), json=wanted
    )
    assert (status, body) == (200, wanted)
    return set()


def attack_recovery(world: World) -> set[str]:
    """B's figures count B's failures alone: A's, of the same amounts and days, never (a
    failed refund is in no figures)."""
    counted = [kind for _, kind, _, _ in B_FAILURES.values() if kind != "refund"]
    for token in (world.b.admin, world.b.reader):
        status, body = call(world, "GET", "/metrics/recovery", bearer(token))
        assert status == 200, body
        assert sum(c["failed"]["count"] for c in body["currencies"]) == len(counted), body
    return set()


def attack_get_retry_policy(world: World) -> set[str]:
    for token in (world.b.admin, world.b.reader):
        status, body = call(world, "GET", "/retry-policy", bearer(token))
        assert status == 200 and (body["days"], body["local_time"]) != ([2, 5], "07:45"), body
    return set()


def attack_put_retry_policy(world: World) -> set[str]:
    # B's admin, with A's admin's sub, changes only B's own policy.
    wanted = {"enabled": False, "days": [4, 9], "local_time": "10:15"}
    status, body = call(world, "PUT", "/retry-policy", bearer(world.b.admin), json=wanted)
    assert status == 200 and (body["days"], body["local_time"]) == ([4, 9], "10:15"), body
    return set()


def attack_unsubscribe(world: World) -> set[str]:
    path = "/me/notification-preferences/unsubscribe"
    key, a, b = world.unsubscribe_key, world.a.org, world.b.org
    forged = [
        (a, SHARED_SUB, unsubscribe_signature(key, b, SHARED_SUB)),  # B's own link, A's org
        (a, SHARED_SUB, unsubscribe_signature(key, b, "user_a_reader")),
        (a, SHARED_SUB, ""),
        (a, "user_a_reader", unsubscribe_signature(key, b, "user_b_reader")),
    ]
    for o, u, s in forged:
        status, body = call(world, "POST", path, None, params={"o": o, "u": u, "s": s})
        expect_forbidden = (status, body["code"]) in ((403, "forbidden"), (422, "validation_error"))
        assert expect_forbidden, (o, u, s, status, body)
    # B's genuine link works, for B only.
    genuine = {"o": b, "u": SHARED_SUB, "s": unsubscribe_signature(key, b, SHARED_SUB)}
    status, body = call(world, "POST", path, None, params=genuine)
    assert (status, body) == (200, {"status": "unsubscribed"})
    return {"o", "u"}


def attack_nothing(world: World) -> set[str]:
    status, body = call(world, "GET", "/openapi.json", bearer(world.b.admin))
    assert status == 200 and body["openapi"].startswith("3.1")
    return set()


def probe_entry(method: str, suffix: str, **kwargs: Any) -> Callable[..., tuple[int, Any]]:
    def probe(world: World, authorization: str | None) -> tuple[int, Any]:
        url = f"/transactions/{world.a.entries['installment']}{suffix}"
        return call(world, method, "/transactions/{id}" + suffix, authorization, url=url, **kwargs)

    return probe


def probe_plain(method: str, path: str, **kwargs: Any) -> Callable[..., tuple[int, Any]]:
    def probe(world: World, authorization: str | None) -> tuple[int, Any]:
        return call(world, method, path, authorization, **kwargs)

    return probe


LIST_FILTERS = {"status", "type", "method", "from", "to", "min_amount", "max_amount", "limit"}
ROUTES: dict[tuple[str, str], RouteUse] = {
    ("GET", "/transactions"): RouteUse(
        ids={"cursor": CURSOR, "account_holder_id": HOLDER, "q": SEARCH},
        plain=frozenset(LIST_FILTERS),
        attack=attack_list,
        probe=probe_plain("GET", "/transactions"),
    ),
    ("GET", "/transactions/{id}"): RouteUse(
        ids={"id": ENTRY}, plain=frozenset(), attack=attack_detail, probe=probe_entry("GET", "")
    ),
    ("POST", "/transactions/{id}/retry"): RouteUse(
        ids={"id": ENTRY, "idempotency-key": IDEMPOTENCY_KEY},
        plain=frozenset(),
        attack=attack_retry,
        probe=probe_entry("POST", "/retry"),
        admin=True,
    ),
    ("POST", "/transactions/{id}/dismiss"): RouteUse(
        ids={"id": ENTRY},
        plain=frozenset({"reason"}),
        attack=attack_dismiss,
        probe=probe_entry("POST", "/dismiss", json={"reason": "probe"}),
        admin=True,
    ),
    ("GET", "/transactions/{id}/payment-method-link"): RouteUse(
        ids={"id": ENTRY},
        plain=frozenset(),
        attack=attack_link,
        probe=probe_entry("GET", "/payment-method-link"),
    ),
    ("GET", "/expiring-cards"): RouteUse(
        ids={"cursor": CURSOR},
        plain=frozenset({"limit"}),
        attack=attack_cards,
        probe=probe_plain("GET", "/expiring-cards"),
    ),
    ("GET", "/organization"): RouteUse(
        ids={},
        plain=frozenset(),
        attack=attack_organization,
        probe=probe_plain("GET", "/organization"),
    ),
    ("GET", "/metrics/recovery"): RouteUse(
        ids={},
        plain=frozenset({"from", "to"}),
        attack=attack_recovery,
        probe=probe_plain("GET", "/metrics/recovery"),
    ),
    ("GET", "/me/notification-preferences"): RouteUse(
        ids={},
        plain=frozenset(),
        attack=attack_get_preferences,
        probe=probe_plain("GET", "/me/notification-preferences"),
    ),
    ("PUT", "/me/notification-preferences"): RouteUse(
        ids={},
        plain=frozenset({"failed_transactions_digest", "locale"}),
        attack=attack_put_preferences,
        probe=probe_plain(
            "PUT",
            "/me/notification-preferences",
            json={"failed_transactions_digest": False, "locale": "fr-CA"},
        ),
    ),
    ("GET", "/retry-policy"): RouteUse(
        ids={},
        plain=frozenset(),
        attack=attack_get_retry_policy,
        probe=probe_plain("GET", "/retry-policy"),
    ),
    ("PUT", "/retry-policy"): RouteUse(
        ids={},
        plain=frozenset({"enabled", "days", "local_time"}),
        attack=attack_put_retry_policy,
        probe=probe_plain(
            "PUT", "/retry-policy", json={"enabled": False, "days": [3], "local_time": "06:00"}
        ),
        admin=True,
    ),
    ("POST", "/me/notification-preferences/unsubscribe"): RouteUse(
        ids={"o": ORGANIZATION, "u": USER},
        plain=frozenset({"s"}),
        attack=attack_unsubscribe,
        probe=None,
    ),
    ("GET", "/openapi.json"): RouteUse(
        ids={}, plain=frozenset(), attack=attack_nothing, probe=None
    ),
}


def documented_names(method: str, path: str) -> set[str]:
    """The parameters and top-level body fields openapi.json lists for a route."""
    operation = DOCUMENT["paths"][path][method.lower()]
    names = {parameter["name"] for parameter in operation.get("parameters", [])}
    for content in operation.get("requestBody", {}).get("content", {}).values():
        schema = content.get("schema", {})
        for option in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
            named = option
            if "$ref" in option:
                named = DOCUMENT["components"]["schemas"][option["$ref"].rsplit("/", 1)[1]]
            names |= set(named.get("properties", {}))
    return names


def is_secured(method: str, path: str) -> bool:
    operation = DOCUMENT["paths"][path][method.lower()]
    return bool(operation.get("security", DOCUMENT.get("security", [])))


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_documented_route_and_parameter_is_known(method: str, path: str) -> None:
    use = ROUTES.get((method, path))
    assert use is not None, f"{method} {path} is in openapi.json but not in this file's ROUTES"
    assert documented_names(method, path) == set(use.ids) | use.plain, (
        f"{method} {path}: classify each documented parameter and body field in ROUTES"
    )
    assert (use.probe is not None) == is_secured(method, path)


def test_this_file_knows_no_route_the_document_does_not_list() -> None:
    assert set(ROUTES) == set(OPERATIONS)


def test_the_forging_signer_makes_tokens_the_gateway_takes(world: World) -> None:
    """The refusals below are the claims', not the signer's: its plain token reads A's table."""
    good = bearer(world.signer.sign(world.signer.claims(world.a.org)))
    status, page = call(world, "GET", "/transactions", good)
    assert status == 200 and {item["id"] for item in page["items"]} == set(world.baseline.listing)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_b_with_as_ids_gets_404_and_as_data_is_unchanged(
    world: World, method: str, path: str
) -> None:
    use = ROUTES[(method, path)]
    exercised = use.attack(world)
    assert exercised == set(use.ids), f"{method} {path}: every id-bearing name is tried"
    if method != "GET":  # a read's effects, if any, are caught by the last test
        assert_a_unchanged(world)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p in OPERATIONS if is_secured(m, p)])
def test_a_refused_token_on_as_data_is_401_and_changes_nothing(
    world: World, method: str, path: str
) -> None:
    use = ROUTES[(method, path)]
    assert use.probe is not None
    problems = []
    for name, (make, outcome) in BAD_TOKENS.items():
        status, body = use.probe(world, make(world.signer, world.a.org))
        got = (status, body.get("code") if isinstance(body, dict) else None)
        if outcome == "401":
            wanted: tuple[int, str | None] | None = (401, "unauthorized")
        elif outcome == "member":  # A's member without billing_admin: reads, may not act
            wanted = (403, "forbidden") if use.admin else None
        else:  # taken as another (empty) organization: what a string org_id gets there
            org = outcome.removeprefix("as_org:")
            other = world.signer.sign(world.signer.claims(org))
            wanted = use.probe(world, bearer(other))[0], None
            got = (status, None)
        if wanted is not None and got != wanted:
            problems.append(f"{name}: {got}, wanted {wanted}")
        if outcome != "member" and leaked(world, body) - {world.a.entries["installment"]}:
            problems.append(f"{name}: A's data in {body}")
    assert problems == []
    if method != "GET":
        assert_a_unchanged(world)


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p in OPERATIONS if ROUTES.get((m, p)) and ROUTES[(m, p)].admin],
)
def test_as_reader_may_not_act_on_as_entries(world: World, method: str, path: str) -> None:
    use = ROUTES[(method, path)]
    assert use.probe is not None
    status, body = use.probe(world, bearer(world.a.reader))
    assert (status, body["code"]) == (403, "forbidden")
    assert_a_unchanged(world)


def test_as_data_is_as_it_was_after_all_of_the_above(world: World) -> None:
    """Last: whatever ran before (reads included), A reads back what it had."""
    assert_a_unchanged(world)
