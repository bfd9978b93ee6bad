"""The HTTP API's JWT authorizer, locally: HS256 with the local secret instead of the IdP's keys."""

import time
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from local import config
from local.template import JwtAuthorizer


class Unauthorized(Exception):
    """No token, or one the authorizer refuses: 401 before any function runs."""


def mint_token(
    org_id: str,
    sub: str,
    email: str,
    groups: Sequence[str],
    *,
    lifetime: int = config.TOKEN_LIFETIME_SECONDS,
    issuer: str = config.JWT_ISSUER,
    audience: str = config.JWT_AUDIENCE,
    secret: str = config.JWT_SECRET,
) -> str:
    """A token as the identity provider would issue it (tests pass odd values to get bad ones)."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "email": email,
        "org_id": org_id,
        "groups": list(groups),
        "iat": min(now, now + lifetime),
        "exp": now + lifetime,
    }
    return jwt.encode(claims, secret, algorithm=config.JWT_ALGORITHM)


def verify(authorization: str | None, authorizer: JwtAuthorizer) -> dict[str, str]:
    """The claims as HTTP API hands them to the function (every value a string), or Unauthorized.

    Like API Gateway, takes the token with or without its "Bearer " prefix; checks the signature,
    the issuer, the audience, and `exp` (required) and `nbf`/`iat` when present.
    """
    if not authorization:
        raise Unauthorized("no Authorization header")
    scheme, _, rest = authorization.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
    try:
        claims = jwt.decode(
            token,
            config.JWT_SECRET,
            algorithms=[config.JWT_ALGORITHM],
            issuer=authorizer.issuer,
            audience=list(authorizer.audiences),
            options={"require": ["exp", "iss"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(str(error)) from None
    return {name: claim_text(value) for name, value in claims.items()}


def claim_text(value: Any) -> str:
    """HTTP API's rendering of a claim: arrays as "[billing_admin reader]", booleans lower case."""
    if isinstance(value, list | tuple):
        return "[" + " ".join(claim_text(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{claim_text(v)}" for k, v in value.items()) + "]"
    return str(value)
