"""The HTTP API's JWT authorizer, locally, as API Gateway runs it.

API Gateway takes the token (with or without "Bearer "), accepts only RSA signatures, finds the
key by the token's `kid` in the JWKS of the authorizer's issuer (`<issuer>/.well-known/
openid-configuration` -> `jwks_uri`), and checks `iss` (exactly the issuer), `aud` (one of the
audiences; `client_id` instead when the token has no `aud`), `exp` (required) and `nbf`/`iat`
when present, each a JSON number. The local identity provider
(local/oidc.py) signs RS256, so RS256 is the one algorithm taken here: `alg: none`, HS256 (the
algorithm-confusion trick: an HMAC keyed with the public key) and any other are refused.

Every refusal is `Unauthorized`, a 401 before any function runs (local/gateway.py), including an
issuer whose keys cannot be fetched: that is logged as a warning, never a 500.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import jwt
import requests

from local.template import JwtAuthorizer

log = logging.getLogger("local.auth")

ALGORITHMS = ("RS256",)
FETCH_TIMEOUT_SECONDS = 5.0
# After a failed discovery or key fetch, that issuer's tokens are refused at once this long.
RETRY_AFTER_SECONDS = 5.0


class Unauthorized(Exception):
    """No token, or one the authorizer refuses: 401 before any function runs."""


class KeySource(Protocol):
    """Where the authorizer finds an issuer's public keys."""

    def signing_key(self, issuer: str, kid: str) -> Any:
        """The public key `kid` of `issuer`; Unauthorized if it has none or cannot be reached."""
        ...


class KeySet(jwt.PyJWKClient):
    """PyJWT's client of one JWKS, with PyJWT's own policy: the key set is kept `lifespan` (five
    minutes); a `kid` it does not hold makes it fetched again, at most once per `cooldown_duration`
    (30 s) counted from the last successful fetch, so that a key rotated within 30 s of a fetch is
    refused until the cooldown is over. Two changes: an answer that is not JSON (HTML, a proxy's
    error page...) is a PyJWKClientConnectionError as an unreachable one is, and after a failed
    fetch every fetch fails at once for `retry_after` seconds, rather than each request waiting
    on the network in turn."""

    def __init__(
        self, uri: str, *, timeout: float, retry_after: float, clock: Callable[[], float]
    ) -> None:
        super().__init__(uri, timeout=timeout)
        self.retry_after = retry_after
        self.clock = clock
        self._failed: tuple[float, str] | None = None  # when the last fetch failed, and why

    def fetch_data(self) -> Any:
        if self._failed is not None and self.clock() - self._failed[0] < self.retry_after:
            raise jwt.PyJWKClientConnectionError(
                f"{self._failed[1]} (less than {self.retry_after:g} s ago: not tried again yet)"
            )
        try:
            data = super().fetch_data()
        except (jwt.PyJWTError, ValueError, OSError) as error:  # ValueError: not JSON, not UTF-8
            self._failed = (self.clock(), f"{self.uri}: {error}")
            log.warning("authorizer: the keys at %s cannot be fetched: %s", self.uri, error)
            raise jwt.PyJWKClientConnectionError(str(error)) from None
        self._failed = None
        return data


class DiscoveredKeys:
    """Keys as API Gateway finds them: the issuer's discovery document names its `jwks_uri`,
    read once per issuer; a KeySet (PyJWT's PyJWKClient) keeps that key set.

    Each issuer has its own lock, held while its discovery document is read (at most `timeout`
    seconds), so one issuer down does not hold up the others. A failed discovery is remembered
    `retry_after` seconds: meanwhile that issuer's tokens are refused at once (401), and the
    document is read again after that. A failed fetch of the keys is remembered the same way
    (KeySet). Every failure is a warning on the console and an Unauthorized, never a 500."""

    def __init__(
        self,
        timeout: float = FETCH_TIMEOUT_SECONDS,
        *,
        retry_after: float = RETRY_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.retry_after = retry_after
        self.clock = clock
        self._clients: dict[str, KeySet] = {}
        self._failed: dict[str, float] = {}  # issuer -> when its discovery failed
        self._issuer_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the dictionaries, never held on the network

    def signing_key(self, issuer: str, kid: str) -> Any:
        client = self._client(issuer)
        try:
            return client.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError as error:
            raise Unauthorized(f"the keys of {issuer} cannot be fetched: {error}") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"no key {kid!r} at {issuer}: {error}") from None

    def _client(self, issuer: str) -> KeySet:
        with self._lock:
            client = self._clients.get(issuer)
            if client is not None:
                return client
            issuer_lock = self._issuer_locks.setdefault(issuer, threading.Lock())
        with issuer_lock:  # one discovery at a time per issuer; the others wait for its outcome
            with self._lock:
                client, failed = self._clients.get(issuer), self._failed.get(issuer)
            if client is not None:
                return client
            if failed is not None and self.clock() - failed < self.retry_after:
                raise Unauthorized(
                    f"the discovery document of {issuer} could not be read less than"
                    f" {self.retry_after:g} s ago"
                )
            try:
                client = self._discover(issuer)
            except Unauthorized:
                with self._lock:
                    self._failed[issuer] = self.clock()
                raise
            with self._lock:
                self._clients[issuer] = client
                self._failed.pop(issuer, None)
            return client

    def _discover(self, issuer: str) -> KeySet:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            answer = requests.get(url, timeout=self.timeout)
            answer.raise_for_status()
            return KeySet(
                answer.json()["jwks_uri"],
                timeout=self.timeout,
                retry_after=self.retry_after,
                clock=self.clock,
            )
        except (
            requests.RequestException,
            ValueError,
            LookupError,
            TypeError,
            jwt.PyJWTError,
        ) as error:
            log.warning("authorizer: cannot read %s: %s", url, error)
            raise Unauthorized(f"the discovery document of {issuer} cannot be read") from None


def verify(authorization: str | None, authorizer: JwtAuthorizer, keys: KeySource) -> dict[str, str]:
    """The claims as HTTP API hands them to the function (every value a string), or Unauthorized."""
    token = bearer_token(authorization)
    key = keys.signing_key(authorizer.issuer, key_id(token))
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=list(ALGORITHMS),
            issuer=authorizer.issuer,
            options={"require": ["exp", "iss"], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(str(error)) from None
    check_numeric_dates(claims)
    check_audience(claims, authorizer.audiences)
    return {name: claim_text(value) for name, value in claims.items()}


def check_numeric_dates(claims: Mapping[str, Any]) -> None:
    """`exp`, `nbf` and `iat` are NumericDates, JSON numbers (RFC 7519 §2, §4.1.4): PyJWT reads
    them with int(), which takes the string "1796200000" too, so a token whose `exp` is a
    string would pass. Unauthorized for anything but a number."""
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Unauthorized(f"the token's {name} is not a NumericDate (a JSON number)")


def check_audience(claims: Mapping[str, Any], audiences: Sequence[str]) -> None:
    """API Gateway's audience check: `aud` (a string or a list of them) must name one of the
    audiences; a token with no `aud` claim (a Cognito access token) is checked by its
    `client_id` instead. Unauthorized otherwise."""
    if "aud" in claims:
        aud = claims["aud"]
        named = [aud] if isinstance(aud, str) else aud
        if not (isinstance(named, list) and all(isinstance(a, str) for a in named)):
            raise Unauthorized("the token's aud is neither a string nor a list of strings")
        if not set(named) & set(audiences):
            raise Unauthorized("the token's audience (aud) is not one of the authorizer's")
        return
    client_id = claims.get("client_id")
    if client_id is None:
        raise Unauthorized("the token has neither an aud nor a client_id claim")
    if not (isinstance(client_id, str) and client_id in audiences):
        raise Unauthorized("the token has no aud and its client_id is not one of the audiences")


def bearer_token(authorization: str | None) -> str:
    """The token of the Authorization header, with or without its "Bearer " prefix."""
    if not authorization:
        raise Unauthorized("no Authorization header")
    scheme, _, rest = authorization.strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else authorization.strip()


def key_id(token: str) -> str:
    """The token's `kid`, once its header names an algorithm the authorizer takes."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise Unauthorized(str(error)) from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise Unauthorized(f"the token is signed with {algorithm!r}: only RS256 is accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("the token's header has no kid")
    return kid


def claim_text(value: Any) -> str:
    """HTTP API's rendering of a claim: arrays as "[billing_admin reader]", booleans lower case."""
    if isinstance(value, list | tuple):
        return "[" + " ".join(claim_text(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{claim_text(v)}" for k, v in value.items()) + "]"
    return str(value)
