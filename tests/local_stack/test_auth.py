"""The local JWT authorizer (local/auth.py) as API Gateway's: RS256 only, the key found by `kid`,
iss/aud/exp/nbf checked, every refusal an Unauthorized (a 401), an unreachable issuer included.

Tokens are signed here with RSA keys made for the test, and a small key source stands for the
issuer's JWKS; DiscoveredKeys is tested against a discovery document and JWKS served on
127.0.0.1."""

import base64
import hashlib
import hmac
import json
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local import auth
from local.services import free_port
from local.template import JwtAuthorizer

ISSUER = "http://127.0.0.1:3001"
AUDIENCE = "payment-action-center-local"
AUTHORIZER = JwtAuthorizer(issuer=ISSUER, audiences=(AUDIENCE, "another-client"))
KID = "key-1"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Keys:
    """The issuer's key set: `kid` -> public key."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys
        self.asked: list[tuple[str, str]] = []

    def signing_key(self, issuer: str, kid: str) -> Any:
        self.asked.append((issuer, kid))
        if issuer != ISSUER or kid not in self.keys:
            raise auth.Unauthorized(f"no key {kid!r} at {issuer}")
        return self.keys[kid]


KEYS = Keys({KID: KEY.public_key()})


def claims(**changes: Any) -> dict[str, Any]:
    """Good claims, with `changes` (None removes a claim)."""
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": [AUDIENCE],
        "sub": "user_1",
        "email": "a@x.example",
        "org_id": "org_x",
        "groups": ["billing_admin", "reader"],
        "iat": now,
        "exp": now + 3600,
    }
    merged = base | changes
    return {name: value for name, value in merged.items() if value is not None}


def signed(payload: dict[str, Any], key: Any = KEY, kid: str | None = KID) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(payload, key, algorithm="RS256", headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_the_public_key(payload: dict[str, Any]) -> str:
    """The algorithm-confusion token: HS256 keyed with the issuer's public key (PEM), which a
    verifier that trusts the header's `alg` would check with that same public key."""
    secret = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def unsigned(payload: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
    return f"{header}.{b64(json.dumps(payload).encode())}."


def refusal(authorization: str | None, keys: auth.KeySource = KEYS) -> str:
    with pytest.raises(auth.Unauthorized) as refused:
        auth.verify(authorization, AUTHORIZER, keys)
    return str(refused.value)


# ----------------------------------------------------------------------------- verify


def test_a_good_token_gives_the_claims_as_http_api_renders_them() -> None:
    given = claims()
    seen = auth.verify(f"Bearer {signed(given)}", AUTHORIZER, KEYS)
    assert seen == {
        "iss": ISSUER,
        "aud": f"[{AUDIENCE}]",
        "sub": "user_1",
        "email": "a@x.example",
        "org_id": "org_x",
        "groups": "[billing_admin reader]",
        "iat": str(given["iat"]),
        "exp": str(given["exp"]),
    }


def test_the_token_is_taken_with_or_without_bearer_and_any_listed_audience() -> None:
    token = signed(claims(aud="another-client"))
    assert auth.verify(token, AUTHORIZER, KEYS)["sub"] == "user_1"
    assert auth.verify(f"bearer  {token} ", AUTHORIZER, KEYS)["sub"] == "user_1"


def test_the_key_is_asked_for_the_authorizers_issuer_and_the_tokens_kid() -> None:
    keys = Keys({KID: KEY.public_key()})
    auth.verify(signed(claims()), AUTHORIZER, keys)
    assert keys.asked == [(ISSUER, KID)]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (signed(claims(exp=int(time.time()) - 60)), "expired"),
        (signed(claims(iss="https://evil.example")), "issuer"),
        (signed(claims(iss=ISSUER + "/")), "issuer"),  # exactly the issuer: no trailing slash
        (signed(claims(iss=None)), "iss"),
        (signed(claims(aud="someone-else")), "audience"),
        (signed(claims(aud=None)), "aud"),
        (signed(claims(exp=None)), "exp"),
        # A day ahead: the tokens are made when the module is collected, and the test may run
        # long after on a loaded machine (ten minutes ahead once became the past meanwhile).
        (signed(claims(nbf=int(time.time()) + 86_400)), "not yet valid"),
        (signed(claims(), key=OTHER_KEY), "Signature verification failed"),
        (signed(claims(), kid="key-unknown"), "no key 'key-unknown'"),
        (signed(claims(), kid=None), "no kid"),
        (unsigned(claims()), "'none'"),
        (hs256_with_the_public_key(claims()), "'HS256'"),
        (jwt.encode(claims(), "a-shared-secret-of-32-bytes-long", algorithm="HS256"), "'HS256'"),
        (jwt.encode(claims(), KEY, algorithm="RS512", headers={"kid": KID}), "'RS512'"),
        ("not-a-jwt", "Not enough segments"),
    ],
    ids=[
        "expired",
        "wrong issuer",
        "issuer with a trailing slash",
        "no iss",
        "wrong audience",
        "no aud",
        "no exp",
        "nbf in the future",
        "wrong signature",
        "unknown kid",
        "no kid",
        "alg none",
        "HS256 signed with the public key",
        "HS256",
        "RS512",
        "not a jwt",
    ],
)
def test_a_bad_token_is_unauthorized_with_its_reason(token: str, reason: str) -> None:
    assert reason.lower() in refusal(f"Bearer {token}").lower()


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": str(int(time.time()) + 3600)},
        {"nbf": str(int(time.time()) - 60)},
        {"iat": str(int(time.time()))},
    ],
    ids=["exp a numeric string", "nbf a numeric string", "iat a numeric string"],
)
def test_a_date_claim_that_is_not_a_json_number_is_unauthorized(changes: dict[str, Any]) -> None:
    [name] = changes
    assert f"{name} is not a NumericDate" in refusal(f"Bearer {signed(claims(**changes))}")


@pytest.mark.parametrize("authorization", [None, "", "Bearer ", "Bearer"])
def test_no_token_is_unauthorized(authorization: str | None) -> None:
    refusal(authorization)


# ----------------------------------------------------------------------------- DiscoveredKeys


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid}


HTML = (200, "text/html", b"<!doctype html><title>Sign in</title>")


class Issuer:
    """A discovery document and a JWKS on 127.0.0.1, counting the requests of each. `answers`
    (path -> status, content type, body) replaces an answer; `hold` (an Event), while unset,
    keeps the discovery request waiting."""

    def __init__(self) -> None:
        self.keys = [jwk(KEY, KID)]
        self.requests: list[str] = []
        self.answers: dict[str, tuple[int, str, bytes]] = {}
        self.hold: threading.Event | None = None
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                document: dict[str, Any] = {"keys": issuer.keys}
                if self.path == "/.well-known/openid-configuration":
                    if issuer.hold is not None:
                        issuer.hold.wait(10)
                    document = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}
                status, content_type, body = issuer.answers.get(
                    self.path, (200, "application/json", json.dumps(document).encode())
                )
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.authorizer = JwtAuthorizer(issuer=self.url, audiences=(AUDIENCE,))
        serve = {"poll_interval": 0.05}
        threading.Thread(target=self.server.serve_forever, kwargs=serve, daemon=True).start()

    def token(self, key: Any = KEY, kid: str = KID) -> str:
        return signed(claims(iss=self.url), key, kid)

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer(loopback_only: None) -> Iterator[Issuer]:
    running = Issuer()
    yield running
    running.stop()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of DiscoveredKeys and of PyJWT's refetch cooldown (jwt.jwks_client's
    time.monotonic); PyJWT's key set lifetime keeps the real one."""
    fake = Clock()
    monkeypatch.setattr(jwt.jwks_client, "time", types.SimpleNamespace(monotonic=fake))
    return fake


def test_keys_are_discovered_once_and_kept(issuer: Issuer) -> None:
    keys = auth.DiscoveredKeys()
    authorizer = JwtAuthorizer(issuer=issuer.url, audiences=(AUDIENCE,))
    for _ in range(3):
        auth.verify(signed(claims(iss=issuer.url)), authorizer, keys)
    assert issuer.requests == ["/.well-known/openid-configuration", "/keys"]


def test_an_unknown_kid_fetches_the_keys_again_at_most_every_30_seconds(
    issuer: Issuer, clock: Clock
) -> None:
    keys = auth.DiscoveredKeys(clock=clock)
    auth.verify(issuer.token(), issuer.authorizer, keys)
    issuer.keys = [jwk(OTHER_KEY, "key-2")]  # the issuer rotated its key
    fetched = ["/.well-known/openid-configuration", "/keys"]

    clock.now += 29  # within PyJWT's cooldown of the last fetch: not fetched again
    with pytest.raises(auth.Unauthorized, match="key-2"):
        auth.verify(issuer.token(OTHER_KEY, "key-2"), issuer.authorizer, keys)
    assert issuer.requests == fetched

    clock.now += 2  # 31 s after: fetched again once, the rotated key found
    rotated = auth.verify(issuer.token(OTHER_KEY, "key-2"), issuer.authorizer, keys)
    assert rotated["sub"] == "user_1"
    assert issuer.requests == [*fetched, "/keys"]

    with pytest.raises(auth.Unauthorized, match="key-3"):  # the cooldown starts again
        auth.verify(issuer.token(OTHER_KEY, "key-3"), issuer.authorizer, keys)
    assert issuer.requests == [*fetched, "/keys"]


def test_an_unreachable_issuer_is_unauthorized_not_an_error(
    loopback_only: None, caplog: pytest.LogCaptureFixture
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    authorizer = JwtAuthorizer(issuer=nobody, audiences=(AUDIENCE,))
    keys = auth.DiscoveredKeys(timeout=2)
    with pytest.raises(auth.Unauthorized, match="discovery document"):
        auth.verify(signed(claims(iss=nobody)), authorizer, keys)
    assert any(record.levelname == "WARNING" for record in caplog.records)


def test_an_issuer_whose_keys_cannot_be_fetched_is_unauthorized(issuer: Issuer) -> None:
    keys = auth.DiscoveredKeys(timeout=2)
    authorizer = JwtAuthorizer(issuer=issuer.url, audiences=(AUDIENCE,))
    auth.verify(signed(claims(iss=issuer.url)), authorizer, keys)
    issuer.server.shutdown()
    issuer.server.server_close()
    with pytest.raises(auth.Unauthorized):
        auth.verify(signed(claims(iss=issuer.url), kid="key-unknown"), authorizer, keys)


@pytest.mark.parametrize(
    "path", ["/keys", "/.well-known/openid-configuration"], ids=["jwks", "discovery"]
)
def test_an_issuer_answering_html_is_unauthorized_with_a_warning(
    issuer: Issuer, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    issuer.answers[path] = HTML
    with pytest.raises(auth.Unauthorized, match="cannot be"):
        auth.verify(issuer.token(), issuer.authorizer, auth.DiscoveredKeys(timeout=2))
    assert any(record.levelname == "WARNING" for record in caplog.records)


@pytest.mark.parametrize(
    "answer",
    [(200, "application/json", b"[]"), (200, "application/json", b'{"keys": []}')],
    ids=["a list", "no keys"],
)
def test_a_jwks_without_usable_keys_is_unauthorized(
    issuer: Issuer, answer: tuple[int, str, bytes]
) -> None:
    issuer.answers["/keys"] = answer
    with pytest.raises(auth.Unauthorized):
        auth.verify(issuer.token(), issuer.authorizer, auth.DiscoveredKeys(timeout=2))


def test_a_failed_discovery_is_remembered_a_few_seconds(issuer: Issuer, clock: Clock) -> None:
    keys = auth.DiscoveredKeys(timeout=2, clock=clock)
    issuer.answers["/.well-known/openid-configuration"] = (503, "text/plain", b"down")
    for _ in range(3):
        with pytest.raises(auth.Unauthorized, match="discovery document"):
            auth.verify(issuer.token(), issuer.authorizer, keys)
    assert issuer.requests == ["/.well-known/openid-configuration"]  # once, then at once

    del issuer.answers["/.well-known/openid-configuration"]  # the issuer is back
    clock.now += auth.RETRY_AFTER_SECONDS - 0.5
    with pytest.raises(auth.Unauthorized):
        auth.verify(issuer.token(), issuer.authorizer, keys)
    clock.now += 0.5
    assert auth.verify(issuer.token(), issuer.authorizer, keys)["sub"] == "user_1"
    assert issuer.requests == ["/.well-known/openid-configuration"] * 2 + ["/keys"]


def test_a_failed_key_fetch_is_remembered_a_few_seconds(issuer: Issuer, clock: Clock) -> None:
    keys = auth.DiscoveredKeys(timeout=2, clock=clock)
    issuer.answers["/keys"] = HTML
    for _ in range(3):
        with pytest.raises(auth.Unauthorized, match="cannot be fetched"):
            auth.verify(issuer.token(), issuer.authorizer, keys)
    assert issuer.requests == ["/.well-known/openid-configuration", "/keys"]

    del issuer.answers["/keys"]
    clock.now += auth.RETRY_AFTER_SECONDS
    assert auth.verify(issuer.token(), issuer.authorizer, keys)["sub"] == "user_1"
    assert issuer.requests == ["/.well-known/openid-configuration", "/keys", "/keys"]


def test_a_slow_issuer_does_not_hold_up_another(loopback_only: None) -> None:
    slow, fast = Issuer(), Issuer()
    slow.hold = threading.Event()
    keys = auth.DiscoveredKeys(timeout=5)
    outcome: list[object] = []

    def verify_slow() -> None:
        try:
            outcome.append(auth.verify(slow.token(), slow.authorizer, keys)["sub"])
        except auth.Unauthorized as refused:
            outcome.append(refused)

    waiting = threading.Thread(target=verify_slow)
    try:
        waiting.start()
        deadline = time.monotonic() + 5
        while not slow.requests and time.monotonic() < deadline:  # its discovery is under way
            time.sleep(0.01)
        started = time.monotonic()
        assert auth.verify(fast.token(), fast.authorizer, keys)["sub"] == "user_1"
        assert time.monotonic() - started < 2
        assert outcome == []  # the slow one is still waiting for its discovery
    finally:
        slow.hold.set()
        waiting.join(10)
        slow.stop()
        fast.stop()
    assert outcome == ["user_1"]


# ----------------------------------------------------------------------------- audience


def test_a_token_without_aud_is_checked_by_its_client_id() -> None:
    token = signed(claims(aud=None, client_id=AUDIENCE, token_use="access"))
    assert auth.verify(token, AUTHORIZER, KEYS)["client_id"] == AUDIENCE


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": None, "client_id": "someone-else"}, "client_id"),
        ({"aud": None, "client_id": ["payment-action-center-local"]}, "client_id"),
        ({"aud": None}, "neither"),
        ({"aud": "someone-else", "client_id": AUDIENCE}, "audience"),  # aud first, as AWS
        ({"aud": ["someone-else"], "client_id": AUDIENCE}, "audience"),
        ({"aud": 42}, "aud"),
        ({"aud": []}, "audience"),
    ],
    ids=[
        "no aud, other client_id",
        "no aud, client_id not a string",
        "neither",
        "wrong aud, right client_id",
        "wrong aud list, right client_id",
        "aud a number",
        "aud empty",
    ],
)
def test_the_audience_is_aud_if_present_else_client_id(
    changes: dict[str, Any], reason: str
) -> None:
    assert reason in refusal(f"Bearer {signed(claims(**changes))}")


def test_any_listed_audience_in_an_aud_list_is_enough() -> None:
    token = signed(claims(aud=["someone-else", "another-client"]))
    assert auth.verify(token, AUTHORIZER, KEYS)["aud"] == "[someone-else another-client]"
