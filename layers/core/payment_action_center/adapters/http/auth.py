"""The caller, from the JWT claims the API Gateway authorizer verified."""

import re
from collections.abc import Mapping
from typing import Any

from payment_action_center.domain.entries import Caller
from payment_action_center.domain.errors import Unauthorized

_ORG_ID = re.compile(r"^[A-Za-z0-9_.:~-]{1,128}$")


def groups_claim(value: Any) -> frozenset[str]:
    """HTTP API hands array claims over as one string, "[billing_admin reader]"; accept both."""
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple):
        return frozenset(str(group) for group in value)
    return frozenset(part for part in re.split(r"[\s,\[\]]+", str(value)) if part)


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    claims = claims or {}
    org_id, sub = claims.get("org_id"), claims.get("sub")
    if not isinstance(org_id, str) or not _ORG_ID.fullmatch(org_id):
        raise Unauthorized("the token carries no valid org_id claim")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("the token carries no sub claim")
    email = claims.get("email")
    return Caller(
        org_id=org_id,
        user_id=sub,
        email=email if isinstance(email, str) and email else None,
        groups=groups_claim(claims.get("groups")),
    )
