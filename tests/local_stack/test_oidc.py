"""The local identity provider (local/oidc.py) started alone, on 127.0.0.1: its discovery
document and keys, a sign-in that gives an RS256 ID token with the user's claims, and the checks
of a code a real provider makes (PKCE, RFC 7636 §4.6; once only, a short life) that the mock
leaves out. The code's lifetime is tested on the middleware alone, with a clock of the test."""

import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import oidc_provider_mock
import pytest
import requests
import werkzeug.test

from local import config
from local.oidc import (
    CODE_LIFETIME_SECONDS,
    PKCE_METHOD,
    IdentityProvider,
    PkceCheck,
    new_verifier,
    s256,
)
from local.services import LocalServiceError

pytestmark = pytest.mark.usefixtures("loopback_only")

CLIENT_ID = config.JWT_AUDIENCE
REDIRECT_URI = "http://127.0.0.1:3000/console/index.html"


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    users = {"user_predefined": {"email": "p@x.example", "org_id": "org_p", "groups": []}}
    with IdentityProvider(0, users=users) as running:
        yield running


def discovery(idp: IdentityProvider) -> dict[str, Any]:
    answer = requests.get(idp.issuer + "/.well-known/openid-configuration", timeout=10)
    assert answer.status_code == 200
    return dict(answer.json())


def decoded(idp: IdentityProvider, token: str, audience: str = CLIENT_ID) -> dict[str, Any]:
    """The token's claims, its RS256 signature checked with the provider's JWKS."""
    key = jwt.PyJWKClient(discovery(idp)["jwks_uri"]).get_signing_key_from_jwt(token)
    return dict(
        jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=idp.issuer)
    )


def authorize(idp: IdentityProvider, sub: str = "user_pkce", **pkce: str) -> requests.Response:
    """The browser's POST of the sign-in form, with `pkce` (code_challenge...) in the query."""
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email",
        "state": "state-1",
        **pkce,
    }
    return requests.post(
        idp.issuer + "/oauth2/authorize",
        params=query,
        data={"sub": sub},
        allow_redirects=False,
        timeout=10,
    )


def code_for(idp: IdentityProvider, verifier: str | None) -> str:
    pkce = {} if verifier is None else {"code_challenge": s256(verifier)}
    if verifier is not None:
        pkce["code_challenge_method"] = PKCE_METHOD
    answer = authorize(idp, **pkce)
    assert answer.status_code == 302, answer.text
    redirect = urlsplit(answer.headers["location"])
    assert redirect._replace(query="").geturl() == REDIRECT_URI
    query = parse_qs(redirect.query)
    assert query["state"] == ["state-1"]
    return query["code"][0]


def token_form(code: str, verifier: str | None) -> dict[str, str]:
    """The token request of the authorization-code flow, without a verifier when None."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
    }
    return form if verifier is None else form | {"code_verifier": verifier}


def exchange(idp: IdentityProvider, code: str, verifier: str | None) -> requests.Response:
    return requests.post(
        idp.issuer + "/oauth2/token",
        data=token_form(code, verifier),
        headers={"origin": "http://127.0.0.1:3000"},
        timeout=10,
    )


def assert_refused(answer: requests.Response, error: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == error
    assert answer.json()["error_description"]


# ----------------------------------------------------------------------------- the provider


def test_discovery_names_the_issuer_its_keys_and_endpoints(idp: IdentityProvider) -> None:
    document = discovery(idp)
    assert idp.issuer == f"http://127.0.0.1:{idp.port}"
    assert document["issuer"] == idp.issuer
    assert document["jwks_uri"].startswith(idp.issuer + "/")
    assert document["authorization_endpoint"] == idp.issuer + "/oauth2/authorize"
    assert document["token_endpoint"] == idp.issuer + "/oauth2/token"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "code" in document["response_types_supported"]


def test_the_jwks_holds_its_public_rsa_key(idp: IdentityProvider) -> None:
    keys = requests.get(discovery(idp)["jwks_uri"], timeout=10).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["kid"]
    assert "d" not in keys[0]  # public only


def test_a_registered_user_signs_in_with_an_rs256_token_of_their_claims(
    idp: IdentityProvider,
) -> None:
    idp.register("user_1", "a@x.example", "org_x", ["billing_admin", "reader"])
    token = idp.sign_in("user_1", CLIENT_ID)

    header = jwt.get_unverified_header(token)
    claims = decoded(idp, token)
    assert header["alg"] == "RS256"
    assert header["kid"] == requests.get(idp.issuer + "/jwks", timeout=10).json()["keys"][0]["kid"]
    assert claims["iss"] == idp.issuer
    assert claims["aud"] in (CLIENT_ID, [CLIENT_ID])
    assert claims["sub"] == "user_1"
    assert claims["email"] == "a@x.example"
    assert claims["org_id"] == "org_x"
    assert claims["groups"] == ["billing_admin", "reader"]
    assert abs(claims["exp"] - (time.time() + config.TOKEN_LIFETIME_SECONDS)) < 60


def test_registering_again_replaces_the_claims(idp: IdentityProvider) -> None:
    idp.register("user_2", "a@x.example", "org_x", ["billing_admin"])
    idp.register("user_2", "b@y.example", "org_y", [])
    claims = decoded(idp, idp.sign_in("user_2", CLIENT_ID))
    assert (claims["email"], claims["org_id"], claims["groups"]) == ("b@y.example", "org_y", [])


def test_email_comes_only_with_the_email_scope(idp: IdentityProvider) -> None:
    idp.register("user_3", "c@x.example", "org_x", [])
    claims = decoded(idp, idp.sign_in("user_3", CLIENT_ID, scope="openid"))
    assert "email" not in claims
    assert claims["org_id"] == "org_x"


def test_the_audience_is_the_client_that_signed_in(idp: IdentityProvider) -> None:
    token = idp.sign_in("user_1", "another-client")
    assert decoded(idp, token, audience="another-client")["sub"] == "user_1"
    with pytest.raises(jwt.InvalidAudienceError):
        decoded(idp, token)


def test_the_sign_in_form_offers_the_predefined_users(idp: IdentityProvider) -> None:
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI}
    page = requests.get(idp.issuer + "/oauth2/authorize", params=query, timeout=10)
    assert page.status_code == 200
    assert 'aria-label="Authorize as user_predefined"' in page.text
    claims = decoded(idp, idp.sign_in("user_predefined", CLIENT_ID))
    assert claims["org_id"] == "org_p"


def test_a_browser_may_exchange_its_code_across_origins(idp: IdentityProvider) -> None:
    verifier = new_verifier()
    answer = exchange(idp, code_for(idp, verifier), verifier)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert decoded(idp, answer.json()["id_token"])["sub"] == "user_pkce"


def test_a_taken_port_is_named_with_its_variable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LocalServiceError, match=f"127.0.0.1:{port}.*PAC_OIDC_PORT"):
            IdentityProvider(port).start()


# ----------------------------------------------------------------------------- PKCE


def test_a_wrong_verifier_is_invalid_grant(idp: IdentityProvider) -> None:
    code = code_for(idp, new_verifier())
    answer = exchange(idp, code, new_verifier())
    assert_refused(answer, "invalid_grant")
    assert answer.headers["access-control-allow-origin"] == "*"  # the browser can read why


def test_a_missing_verifier_is_invalid_grant_when_a_challenge_was_sent(
    idp: IdentityProvider,
) -> None:
    assert_refused(exchange(idp, code_for(idp, new_verifier()), None), "invalid_grant")


def test_a_malformed_verifier_is_invalid_grant(idp: IdentityProvider) -> None:
    short = "too-short"
    answer = authorize(idp, code_challenge=s256(short), code_challenge_method=PKCE_METHOD)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    assert_refused(exchange(idp, code, short), "invalid_grant")


@pytest.mark.parametrize("method", [{"code_challenge_method": "plain"}, {}])
def test_the_plain_method_is_refused_at_authorize(
    idp: IdentityProvider, method: dict[str, str]
) -> None:
    challenge = {"code_challenge": new_verifier(), **method}  # plain: the verifier itself
    assert_refused(authorize(idp, **challenge), "invalid_request")
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        **challenge,
    }
    page = requests.get(idp.issuer + "/oauth2/authorize", params=query, timeout=10)
    assert_refused(page, "invalid_request")


def test_a_code_is_exchanged_once(idp: IdentityProvider) -> None:
    verifier = new_verifier()
    code = code_for(idp, verifier)
    assert exchange(idp, code, verifier).status_code == 200
    assert_refused(exchange(idp, code, verifier), "invalid_grant")


def test_a_code_asked_without_a_challenge_needs_no_verifier(idp: IdentityProvider) -> None:
    answer = exchange(idp, code_for(idp, None), None)
    assert answer.status_code == 200, answer.text


def test_a_wrong_verifier_burns_the_code(idp: IdentityProvider) -> None:
    verifier = new_verifier()
    code = code_for(idp, verifier)
    assert_refused(exchange(idp, code, new_verifier()), "invalid_grant")
    assert_refused(exchange(idp, code, verifier), "invalid_grant")  # RFC 6749 §4.1.2: used once


def test_a_code_it_did_not_issue_is_invalid_grant(idp: IdentityProvider) -> None:
    answer = exchange(idp, "a-code-nobody-issued", new_verifier())
    assert_refused(answer, "invalid_grant")
    assert answer.headers["access-control-allow-origin"] == "*"


# The middleware alone, around the mock's WSGI app, with a clock the test moves.


class Door:
    """The mock's app behind PkceCheck (`checked`) and bare (`bare`), at a time set by the test."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.app = oidc_provider_mock.app(require_client_registration=False)
        self.checked = werkzeug.test.Client(PkceCheck(self.app, clock=lambda: self.now))
        self.bare = werkzeug.test.Client(self.app)

    def code(self, verifier: str | None, *, bare: bool = False) -> str:
        query = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "state": "s",
        }
        if verifier is not None:
            query |= {"code_challenge": s256(verifier), "code_challenge_method": PKCE_METHOD}
        client = self.bare if bare else self.checked
        answer = client.post("/oauth2/authorize", query_string=query, data={"sub": "user_door"})
        assert answer.status_code == 302, answer.text
        return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]

    def exchange(self, code: str, verifier: str | None) -> werkzeug.test.TestResponse:
        return self.checked.post("/oauth2/token", data=token_form(code, verifier))


def assert_invalid_grant(answer: werkzeug.test.TestResponse) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json is not None
    assert answer.json["error"] == "invalid_grant"
    assert "id_token" not in answer.json


def test_the_door_lets_a_fresh_code_through() -> None:
    door = Door()
    verifier = new_verifier()
    answer = door.exchange(door.code(verifier), verifier)
    assert answer.status_code == 200, answer.text
    assert answer.json is not None and answer.json["id_token"]


def test_a_code_the_middleware_never_saw_is_invalid_grant_without_a_verifier() -> None:
    door = Door()
    assert_invalid_grant(door.exchange(door.code(new_verifier(), bare=True), None))


@pytest.mark.parametrize("with_challenge", [True, False], ids=["challenge", "no challenge"])
def test_a_code_past_its_lifetime_is_invalid_grant(with_challenge: bool) -> None:
    door = Door()
    verifier = new_verifier() if with_challenge else None
    code = door.code(verifier)
    door.now += CODE_LIFETIME_SECONDS + 1
    door.code(new_verifier())  # another sign-in meanwhile: the old code is forgotten
    assert_invalid_grant(door.exchange(code, None))  # not let through without a verifier
    assert_invalid_grant(door.exchange(code, verifier))


def test_a_code_past_its_lifetime_is_refused_even_with_its_verifier() -> None:
    door = Door()
    verifier = new_verifier()
    code = door.code(verifier)
    door.now += CODE_LIFETIME_SECONDS + 1  # and nothing else happened meanwhile
    assert_invalid_grant(door.exchange(code, verifier))


def test_a_code_just_within_its_lifetime_is_exchanged() -> None:
    door = Door()
    verifier = new_verifier()
    code = door.code(verifier)
    door.now += CODE_LIFETIME_SECONDS - 1
    assert door.exchange(code, verifier).status_code == 200
