"""The HTTP API's JWT authorizer, locally, as API Gateway runs it.

API Gateway takes the token (with or without "Bearer "), accepts only RSA signatures, finds the
key by the token's `kid` in the JWKS of the authorizer's issuer (`<issuer>/.well-known/
openid-configuration` -> `jwks_uri`), and checks `iss` (exactly the issuer), `aud` (one of the
audiences), `exp` (required) and `nbf`/`iat` when present. The local identity provider
(local/oidc.py) signs RS256, so RS256 is the one algorithm taken here: `alg: none`, HS256 (the
algorithm-confusion trick: an HMAC keyed with the public key) and any other are refused.

Every refusal is `Unauthorized`, a 401 before any function runs (local/gateway.py), including an
issuer whose keys cannot be fetched: that is logged as a warning, never a 500.
"""

import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import jwt
import requests

from local.template import JwtAuthorizer

log = logging.getLogger("local.auth")

ALGORITHMS = ("RS256",)
FETCH_TIMEOUT_SECONDS = 5.0


class Unauthorized(Exception):
    """No token, or one the authorizer refuses: 401 before any function runs."""


class KeySource(Protocol):
    """Where the authorizer finds an issuer's public keys."""

    def signing_key(self, issuer: str, kid: str) -> Any:
        """The public key `kid` of `issuer`; Unauthorized if it has none or cannot be reached."""
        ...


class DiscoveredKeys:
    """Keys as API Gateway finds them: the issuer's discovery document names its `jwks_uri`,
    read once per issuer; PyJWT's PyJWKClient keeps the key set (five minutes) and fetches it
    again once for a `kid` it does not know (a rotated key)."""

    def __init__(self, timeout: float = FETCH_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def signing_key(self, issuer: str, kid: str) -> Any:
        client = self._client(issuer)
        try:
            return client.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError as error:
            log.warning("authorizer: the keys of %s cannot be fetched: %s", issuer, error)
            raise Unauthorized(f"the keys of {issuer} cannot be fetched") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"no key {kid!r} at {issuer}: {error}") from None

    def _client(self, issuer: str) -> jwt.PyJWKClient:
        with self._lock:
            client = self._clients.get(issuer)
            if client is None:
                client = self._clients[issuer] = self._discover(issuer)
            return client

    def _discover(self, issuer: str) -> jwt.PyJWKClient:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            answer = requests.get(url, timeout=self.timeout)
            answer.raise_for_status()
            return jwt.PyJWKClient(
                answer.json()["jwks_uri"], timeout=self.timeout, cooldown_duration=0
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
            audience=list(authorizer.audiences),
            options={"require": ["exp", "iss"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(str(error)) from None
    return {name: claim_text(value) for name, value in claims.items()}


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
