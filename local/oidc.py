"""The local stack's identity provider: a real OpenID Connect provider on loopback.

In AWS the HTTP API's JWT authorizer trusts the identity provider named by the template's
`JwtIssuer` (Cognito, Auth0, Entra...): it reads `<issuer>/.well-known/openid-configuration`,
then the keys at its `jwks_uri`, and accepts RS256 ID tokens signed with them. Locally that
provider is the PyPI package `oidc-provider-mock` (its Flask app, served by werkzeug in a thread
of the stack's process), so that the local gateway (local/auth.py) checks tokens exactly that way
and a browser signs in with the authorization-code flow as it will against the real provider.

The mock's issuer is the URL it was reached at, without a trailing slash
(`http://127.0.0.1:3001`): reach it at 127.0.0.1, never `localhost`, or the tokens name another
issuer than the template's. Its ID tokens carry `aud` = the client id and every claim of the user
that is not a standard OpenID one (`org_id`, `groups`); `email` only with the `email` scope.
It issues tokens to any client id and redirect URI (no client registration).

The mock ignores PKCE and its codes never expire; real providers refuse a code exchanged without
the verifier of its challenge (RFC 7636 §4.6), and an old or already tried one. `PkceCheck` adds
those checks in front of it, S256 only.
"""

import base64
import hashlib
import io
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import oidc_provider_mock
import requests
import werkzeug.serving
import werkzeug.wsgi

from local import config
from local.services import LocalServiceError, ThreadedServer

log = logging.getLogger("local.oidc")

PKCE_METHOD = "S256"  # the one method accepted: `plain` sends the secret in the clear
# RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
VERIFIER_PATTERN = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# How long a code waits for its exchange (real providers: minutes at most).
CODE_LIFETIME_SECONDS = 600
# Where sign_in's codes are "sent": never requested, only named in the two requests of the flow.
SIGN_IN_REDIRECT_URI = "http://127.0.0.1/local-sign-in"
HTTP_TIMEOUT_SECONDS = 10

type Claims = Mapping[str, object]
type Headers = list[tuple[str, str]]


class SignInFailed(LocalServiceError):
    """The provider did not complete a sign-in: the message has its answer."""


def user_claims(email: str, org_id: str, groups: Sequence[str]) -> dict[str, object]:
    """A user's claims as the API reads them (docs/deploy.md: sub, email, org_id, groups)."""
    return {"email": email, "org_id": org_id, "groups": list(groups)}


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier: BASE64URL(SHA256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_verifier() -> str:
    """A fresh code verifier: 64 characters of base64url, 384 bits."""
    return secrets.token_urlsafe(48)


# ----------------------------------------------------------------------------- PKCE


class PkceCheck:
    """WSGI middleware: the provider's door refuses what a real provider would about codes.

    At `/oauth2/authorize`, a `code_challenge` with a method other than S256 (or none, which
    means `plain`) is 400 invalid_request. Every code the authorization issues (a 302 whose
    Location carries `code`) is remembered with its challenge, if any, and its issue time. At
    `POST /oauth2/token` (authorization_code), the middleware answers 400 invalid_grant (with
    CORS, as the mock answers the token endpoint) for a code it did not issue, one older than
    CODE_LIFETIME_SECONDS (the mock's codes never expire), one already exchanged, and a code
    asked with a challenge whose `code_verifier` is missing, malformed or wrong; that last one
    burns the code (RFC 6749 §4.1.2: a code is used once), so that the right verifier fails
    after it too. A code asked without a challenge needs no verifier.
    """

    def __init__(self, app: WSGIApplication, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self._codes: dict[str, tuple[str | None, float]] = {}  # code -> (challenge, issued at)
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/oauth2/authorize":
            return self.authorize(environ, start_response)
        if path == "/oauth2/token" and method == "POST":
            return self.token(environ, start_response)
        return self.app(environ, start_response)

    def authorize(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        query = first_values(environ.get("QUERY_STRING", ""))
        challenge = query.get("code_challenge")
        if challenge is not None:
            method = query.get("code_challenge_method", "plain")
            if method != PKCE_METHOD or not challenge:
                description = f"code_challenge_method must be {PKCE_METHOD}, not {method!r}"
                if not challenge:
                    description = "code_challenge is empty"
                return oauth_error(start_response, "invalid_request", description, cors=False)

        def remember(status: str, headers: Headers, exc_info: Any = None) -> Any:
            code = issued_code(status, headers)
            if code is not None:
                self._remember(code, challenge)
            return start_response(status, headers, exc_info)

        return self.app(environ, remember)

    def token(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        form = first_values(read_body(environ).decode("utf-8", "replace"))
        if form.get("grant_type") != "authorization_code":
            return self.app(environ, start_response)
        code = form.get("code", "")
        known, challenge = self._lookup(code)
        if not known:
            description = "the code is unknown, expired or already used"
            return oauth_error(start_response, "invalid_grant", description, cors=True)
        if challenge is not None:
            problem = verifier_problem(form.get("code_verifier"), challenge)
            if problem is not None:
                self._forget(code)  # a failed attempt burns the code, as real providers do
                return oauth_error(start_response, "invalid_grant", problem, cors=True)

        def forget(status: str, headers: Headers, exc_info: Any = None) -> Any:
            if status.startswith("200"):
                self._forget(code)
            return start_response(status, headers, exc_info)

        return self.app(environ, forget)

    def _prune(self) -> None:
        """Forget the codes past their lifetime (the lock held)."""
        now = self.clock()
        for old in [c for c, (_, at) in self._codes.items() if now - at > CODE_LIFETIME_SECONDS]:
            del self._codes[old]

    def _remember(self, code: str, challenge: str | None) -> None:
        with self._lock:
            self._prune()
            self._codes[code] = (challenge, self.clock())

    def _lookup(self, code: str) -> tuple[bool, str | None]:
        """Whether the code is one it issued and still alive, and its challenge (None: none)."""
        with self._lock:
            self._prune()
            found = self._codes.get(code)
        return (found is not None, found[0] if found else None)

    def _forget(self, code: str) -> None:
        with self._lock:
            self._codes.pop(code, None)


def verifier_problem(verifier: str | None, challenge: str) -> str | None:
    """Why this verifier does not answer the challenge (RFC 7636 §4.6), or None."""
    if not verifier:
        return "code_verifier is required: the authorization request sent a code_challenge"
    if not VERIFIER_PATTERN.fullmatch(verifier):
        return "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'"
    if not secrets.compare_digest(s256(verifier), challenge):
        return "code_verifier does not match the code_challenge"
    return None


def first_values(encoded: str) -> dict[str, str]:
    """A query string or form body: each name's first value."""
    return {name: values[0] for name, values in parse_qs(encoded, keep_blank_values=True).items()}


def read_body(environ: WSGIEnvironment) -> bytes:
    """The request body, put back so that the app reads it too."""
    body = werkzeug.wsgi.get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def issued_code(status: str, headers: Headers) -> str | None:
    """The authorization code of a successful authorize: its redirect's `code`."""
    if not status.startswith("302"):
        return None
    location = next((value for name, value in headers if name.lower() == "location"), "")
    return first_values(urlsplit(location).query).get("code") or None


def oauth_error(
    start_response: StartResponse, error: str, description: str, *, cors: bool
) -> Iterable[bytes]:
    """400 with RFC 6749 §5.2's JSON error body."""
    body = json.dumps({"error": error, "error_description": description}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    if cors:
        headers.append(("Access-Control-Allow-Origin", "*"))
    log.info("identity provider: refused (%s): %s", error, description)
    start_response("400 BAD REQUEST", headers)
    return [body]


# ----------------------------------------------------------------------------- the provider


class _RequestHandler(werkzeug.serving.WSGIRequestHandler):
    """werkzeug's request lines go to the debug log, not the stack's console."""

    def log(self, type: str, message: str, *args: Any) -> None:
        level = logging.WARNING if type == "error" else logging.DEBUG
        log.log(level, "identity provider: " + message, *args)


class IdentityProvider(ThreadedServer):
    """`with IdentityProvider(port) as idp:` idp.issuer, idp.register(...), idp.sign_in(...).

    Port 0 takes a free one. `users` (sub -> claims) are known from the start and offered as
    one-click identities on the sign-in form. Tokens live `token_lifetime` seconds.
    """

    name = "identity-provider"
    poll_interval = 0.1

    def __init__(
        self,
        port: int = config.DEFAULT_PORTS["oidc"],
        host: str = "127.0.0.1",
        *,
        users: Mapping[str, Claims] | None = None,
        token_lifetime: int = config.TOKEN_LIFETIME_SECONDS,
    ) -> None:
        self.host = host
        self._port = port
        self.users = dict(users or {})
        self.token_lifetime = token_lifetime

    @property
    def port(self) -> int:
        """The port it listens on (the one it was given, or the free one it took)."""
        return self._server.server_port if self._server is not None else self._port

    @property
    def issuer(self) -> str:
        """The `iss` of its tokens, and what the template's JwtIssuer stands for locally."""
        return f"http://{self.host}:{self.port}"

    def make_server(self) -> werkzeug.serving.BaseWSGIServer:
        app = oidc_provider_mock.app(
            require_client_registration=False,
            access_token_max_age=timedelta(seconds=self.token_lifetime),
            user_claims=[
                oidc_provider_mock.User(sub=sub, claims=dict(claims))
                for sub, claims in self.users.items()
            ],
        )
        try:
            return werkzeug.serving.make_server(
                self.host,
                self._port,
                PkceCheck(app),
                threaded=True,
                request_handler=_RequestHandler,
            )
        except (OSError, SystemExit):  # werkzeug exits on a port in use, after saying so
            raise LocalServiceError(
                f"identity provider: cannot listen on {self.host}:{self._port};"
                f" stop what uses it or choose another port ({config.PORT_VARIABLES['oidc']})."
            ) from None

    def discovery(self) -> dict[str, Any]:
        """Its OpenID Provider Metadata (/.well-known/openid-configuration)."""
        answer = requests.get(
            f"{self.issuer}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT_SECONDS
        )
        answer.raise_for_status()
        return dict(answer.json())

    def register(self, sub: str, email: str, org_id: str, groups: Sequence[str]) -> None:
        """Create or replace the user `sub` with these claims (the mock's PUT /users/{sub}).
        SignInFailed if the provider does not take them (it cannot address a `sub` that is `.`,
        `..` or has a `/`) or cannot be reached."""
        try:
            answer = requests.put(
                f"{self.issuer}/users/{quote(sub, safe='')}",
                json=user_claims(email, org_id, groups),
                timeout=HTTP_TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            raise SignInFailed(f"PUT /users/{sub}: {error}") from None
        if answer.status_code != 204:
            raise SignInFailed(f"PUT /users/{sub} -> {answer.status_code}: {answer.text[:200]}")

    def sign_in(self, sub: str, client_id: str, scope: str = "openid email") -> str:
        """The ID token `sub` gets by signing in to `client_id` as a browser would: the
        authorization-code flow with PKCE (S256), over HTTP. An unknown `sub` is created with
        only `email` = sub, as the mock's form does. SignInFailed if the provider does not
        give one or cannot be reached."""
        try:
            return self._sign_in(sub, client_id, scope)
        except (requests.RequestException, ValueError, LookupError, TypeError) as error:
            raise SignInFailed(f"sign-in of {sub!r}: {type(error).__name__}: {error}") from None

    def _sign_in(self, sub: str, client_id: str, scope: str) -> str:
        endpoints = self.discovery()
        verifier, state = new_verifier(), secrets.token_urlsafe(16)
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": SIGN_IN_REDIRECT_URI,
            "scope": scope,
            "state": state,
            "code_challenge": s256(verifier),
            "code_challenge_method": PKCE_METHOD,
        }
        with requests.Session() as http:
            consent = http.post(
                endpoints["authorization_endpoint"],
                params=query,
                data={"sub": sub},
                allow_redirects=False,
                timeout=HTTP_TIMEOUT_SECONDS,
            )
            code = authorization_code(consent, state)
            tokens = http.post(
                endpoints["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": SIGN_IN_REDIRECT_URI,
                    "client_id": client_id,
                    "code_verifier": verifier,
                },
                timeout=HTTP_TIMEOUT_SECONDS,
            )
        answer = tokens.json() if tokens.status_code == 200 else None
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise SignInFailed(f"token request -> {tokens.status_code}: {tokens.text[:200]}")
        return answer["id_token"]


def authorization_code(consent: requests.Response, state: str) -> str:
    """The code of the authorize answer: a redirect to the client with `code` and our `state`."""
    location = consent.headers.get("location", "") if consent.status_code == 302 else ""
    values = first_values(urlsplit(location).query)
    if "code" not in values or values.get("state") != state:
        raise SignInFailed(
            f"authorize -> {consent.status_code} {location or consent.text[:200]!r}: no code"
        )
    return values["code"]
