"""The host page's sign-in (console/oidc.js), run in Node as the browser runs the module, with a
fake `fetch` and storage: PKCE's challenge, the request to the provider, and every answer that
must not become a session. The whole flow against a real provider is tested in Chromium
(tests/e2e/console/test_sign_in.py)."""

import base64
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.shared.node import node_json

ISSUER = "https://idp.example.com"
CONFIG = {"api_base": "https://api.example.com", "issuer": ISSUER, "client_id": "console"}
METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/token",
}
REDIRECT = "https://console.example.com/"

# Loaded before each scenario: a storage like sessionStorage, a fetch answering from `answers`
# (a queue of {status, body}) and recording the requests in `sent`.
PRELUDE = """
import * as oidc from './console/oidc.js';
const store = new Map();
const storage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
};
const answers = [];
const sent = [];
globalThis.fetch = async (url, init = {}) => {
  const body = init.body ? String(init.body) : null;
  sent.push({url: String(url), method: init.method || 'GET', body});
  const next = answers.shift();
  if (!next) throw new TypeError('Failed to fetch');
  return new Response(JSON.stringify(next.body), {status: next.status});
};
const outcome = async (promise) => {
  try { return {ok: await promise}; }
  catch (error) { return {error: error.code, detail: error.detail}; }
};
"""


def node(scenario: str, **values: Any) -> Any:
    """Run PRELUDE + `scenario` (which prints one JSON line) with `values` as JS constants."""
    constants = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in values.items())
    return node_json(PRELUDE + constants + scenario)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


BEGIN = """
const back = '/?lang=en-CA&q=x';
const url = new URL(await oidc.beginSignIn(config, metadata, redirect, back, storage));
const pending = JSON.parse(storage.getItem('payment-action-center.sign-in'));
"""


def test_the_challenge_is_the_s256_of_the_verifier() -> None:
    verifiers = ["a" * 43, "dBjftJeZ4CVP-mJ92K9qd4rzNXRlf79g9tpINE4XDN1", "~._-" * 20]
    found = node(
        "const out = [];"
        "for (const v of verifiers) out.push(await oidc.challengeOf(v));"
        "console.log(JSON.stringify(out));",
        verifiers=verifiers,
    )

    assert found == [b64url(hashlib.sha256(v.encode()).digest()) for v in verifiers]


def test_the_authorization_request_carries_pkce_state_and_nonce() -> None:
    found = node(
        BEGIN + "console.log(JSON.stringify({url: url.href, pending}));",
        config=CONFIG,
        metadata=METADATA,
        redirect=REDIRECT,
    )
    url, pending = urlsplit(found["url"]), found["pending"]
    query = {name: values[0] for name, values in parse_qs(url.query).items()}

    assert f"{url.scheme}://{url.netloc}{url.path}" == METADATA["authorization_endpoint"]
    assert query == {
        "response_type": "code",
        "client_id": "console",
        "redirect_uri": REDIRECT,
        "scope": "openid email",
        "state": pending["state"],
        "nonce": pending["nonce"],
        "code_challenge": b64url(hashlib.sha256(pending["verifier"].encode()).digest()),
        "code_challenge_method": "S256",
    }
    assert len(pending["verifier"]) == 43
    assert len({pending["state"], pending["nonce"], pending["verifier"]}) == 3
    assert pending["return_to"] == "/?lang=en-CA&q=x"


COMPLETE = (
    BEGIN
    + """
answers.push(answer(pending));
const params = new URLSearchParams(query(pending));
const now = Date.now() / 1000;
const result = await outcome(oidc.completeSignIn(config, metadata, params, storage, now));
console.log(JSON.stringify({
  result, sent, pending,
  left: storage.getItem('payment-action-center.sign-in'),
  session: JSON.parse(storage.getItem('payment-action-center.session')),
}));
"""
)


def complete(answer: str, query: str) -> dict[str, Any]:
    """The sign-in begun, then answered: `answer(pending)` is the token endpoint's reply and
    `query(pending)` the redirect's query (JS arrow functions)."""
    scenario = f"const answer = {answer};\nconst query = {query};\n" + COMPLETE
    return node(scenario, config=CONFIG, metadata=METADATA, redirect=REDIRECT)  # type: ignore[no-any-return]


def token_answer(claims: str) -> str:
    """JS: the token endpoint's 200 with an ID token of these claims (a JS expression over
    `pending`); the token is made in JS from Python's encoding rules."""
    return (
        "(pending) => ({status: 200, body: {id_token: ["
        f"'{b64url(json.dumps({'alg': 'RS256'}).encode())}',"
        f" Buffer.from(JSON.stringify({claims})).toString('base64url'),"
        " 'c2ln'].join('.')}})"
    )


GOOD = (
    "{iss: config.issuer, aud: 'console', sub: 'user_1', email: 'admin@example.com',"
    " nonce: pending.nonce, exp: Math.floor(Date.now() / 1000) + 3600}"
)


def test_the_code_is_exchanged_with_the_verifier_and_becomes_a_session() -> None:
    found = complete(token_answer(GOOD), "(pending) => `code=the-code&state=${pending.state}`")

    assert "ok" in found["result"], found["result"]
    [request] = found["sent"]
    assert (request["url"], request["method"]) == (METADATA["token_endpoint"], "POST")
    assert {k: v[0] for k, v in parse_qs(request["body"]).items()} == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": REDIRECT,
        "client_id": "console",
        "code_verifier": found["pending"]["verifier"],
    }
    assert found["result"]["ok"]["returnTo"] == "/?lang=en-CA&q=x"
    assert found["session"]["email"] == "admin@example.com"
    assert found["session"]["token"].count(".") == 2
    assert found["left"] is None


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        (GOOD.replace("nonce: pending.nonce", "nonce: 'replayed'"), "nonce"),
        (GOOD.replace("iss: config.issuer", "iss: 'https://evil.example'"), "iss"),
        (GOOD.replace("aud: 'console'", "aud: ['someone-else']"), "aud"),
        (GOOD.replace("+ 3600", "- 10"), "exp"),
        (GOOD.replace("+ 3600", "+ 5"), "exp"),
    ],
)
def test_a_token_that_does_not_answer_this_request_is_refused(claims: str, detail: str) -> None:
    found = complete(token_answer(claims), "(pending) => `code=c&state=${pending.state}`")

    assert found["result"] == {"error": "claims", "detail": detail}
    assert found["session"] is None and found["left"] is None


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("(pending) => 'code=c&state=forged'", {"error": "state", "detail": ""}),
        ("(pending) => 'code=c'", {"error": "state", "detail": ""}),
        # A link's words never reach the page: without this tab's state, not even the error.
        (
            "(pending) => 'error=access_denied&error_description=Call+1-800-SCAM&state=forged'",
            {"error": "state", "detail": ""},
        ),
        (
            "(pending) => `error=access_denied&error_description=Call+us&state=${pending.state}`",
            {"error": "refused", "detail": "access_denied"},
        ),
        (
            "(pending) => `error=${encodeURIComponent('Call 1-800')}&state=${pending.state}`",
            {"error": "refused", "detail": "unknown"},
        ),
    ],
)
def test_an_answer_to_no_request_of_this_tab_is_refused_without_calling_the_provider(
    query: str, refusal: dict[str, str]
) -> None:
    found = complete(token_answer(GOOD), query)

    assert found["result"] == refusal
    assert found["sent"] == []
    assert found["session"] is None and found["left"] is None


def test_after_a_sign_out_the_provider_is_asked_to_authenticate_again() -> None:
    found = node(
        """
const first = new URL(await oidc.beginSignIn(config, metadata, redirect, '/', storage));
oidc.signOut(storage);
const after = new URL(await oidc.beginSignIn(config, metadata, redirect, '/', storage));
console.log(JSON.stringify({
  first: first.searchParams.get('prompt'),
  after: after.searchParams.get('prompt'),
}));
""",
        config=CONFIG,
        metadata=METADATA,
        redirect=REDIRECT,
    )

    assert found == {"first": None, "after": "login"}


def test_a_completed_sign_in_stops_asking_to_authenticate_again() -> None:
    scenario = "oidc.signOut(storage);\n" + COMPLETE.replace(
        "console.log(JSON.stringify({",
        "const next = new URL(await oidc.beginSignIn(config, metadata, redirect, '/', storage));\n"
        "console.log(JSON.stringify({ prompt: next.searchParams.get('prompt'),",
    )
    answer = f"const answer = {token_answer(GOOD)};\n"
    query = "const query = (pending) => `code=c&state=${pending.state}`;\n"
    found = node(answer + query + scenario, config=CONFIG, metadata=METADATA, redirect=REDIRECT)

    assert "ok" in found["result"]
    assert found["prompt"] is None


@pytest.mark.parametrize(
    ("asked", "back"),
    [
        (
            "/console/index.html?lang=en-CA&q=pay_1#top",
            "/console/index.html?lang=en-CA&q=pay_1#top",
        ),
        ("/", "/"),
        ("//evil.example/x", "/console/index.html"),
        ("https://evil.example/x", "/console/index.html"),
        ("/\\evil.example/x", "/console/index.html"),
        ("javascript:alert(1)", "/console/index.html"),
        (None, "/console/index.html"),
    ],
)
def test_the_way_back_stays_on_the_pages_origin(asked: str | None, back: str) -> None:
    found = node(
        "const location = new URL('https://console.example.com/console/index.html?code=c');"
        "console.log(JSON.stringify(oidc.safeReturn(asked, location)));",
        asked=asked,
    )

    assert found == back


def test_the_token_endpoints_refusal_is_shown_with_its_description() -> None:
    refusal = (
        "(pending) => ({status: 400, body: {error: 'invalid_grant',"
        " error_description: 'code_verifier does not match'}})"
    )
    found = complete(refusal, "(pending) => `code=c&state=${pending.state}`")

    assert found["result"] == {"error": "token", "detail": "code_verifier does not match"}
    assert found["session"] is None


def test_a_session_close_to_its_expiry_is_forgotten() -> None:
    found = node(
        """
const KEY = 'payment-action-center.session';
storage.setItem(KEY, JSON.stringify({token: 'a.b.c', expires_at: now + 10}));
const soon = oidc.currentSession(storage, now);
storage.setItem(KEY, JSON.stringify({token: 'a.b.c', expires_at: now + 600}));
const later = oidc.currentSession(storage, now);
storage.setItem(KEY, '{not json');
const broken = oidc.currentSession(storage, now);
console.log(JSON.stringify({soon, later, broken}));
""",
        now=1_800_000_000,
    )

    assert found["soon"] is None and found["broken"] is None
    assert found["later"] == {"token": "a.b.c", "expires_at": 1_800_000_600}


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ({"status": 200, "body": {**METADATA, "issuer": "https://other.example"}}, "other"),
        ({"status": 200, "body": {"issuer": ISSUER}}, "authorization_endpoint"),
        ({"status": 503, "body": {}}, "503"),
        (None, "Failed to fetch"),
    ],
)
def test_a_provider_that_is_not_the_configured_issuer_is_refused(
    answer: dict[str, Any] | None, detail: str
) -> None:
    found = node(
        "if (reply) answers.push(reply);"
        "const result = await outcome(oidc.discover(issuer));"
        "console.log(JSON.stringify({result, sent}));",
        reply=answer,
        issuer=ISSUER,
    )

    assert found["result"]["error"] == "provider"
    assert detail in found["result"]["detail"]
    assert [s["url"] for s in found["sent"]] == [f"{ISSUER}/.well-known/openid-configuration"]
