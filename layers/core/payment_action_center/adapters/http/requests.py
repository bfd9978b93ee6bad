"""What the HTTP API reads (docs/contract.md §4.2): request bodies and the identity of a retry
request, as pydantic models, so the OpenAPI document follows and a misspelled key is refused."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from payment_action_center.domain.auto_retry import DEFAULT_DAYS, DEFAULT_LOCAL_TIME
from payment_action_center.domain.entries import Locale


class DismissRequest(BaseModel):
    # A misspelled key ("reson") is refused, not dismissed without a reason.
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class PreferencesChange(BaseModel):
    """Body of PUT /me/notification-preferences."""

    model_config = ConfigDict(extra="forbid")

    failed_transactions_digest: StrictBool
    locale: Locale


class RetryPolicyChange(BaseModel):
    """Body of PUT /retry-policy. The rules on the values (days strictly increasing from 1 to
    60, at most 6; local_time HH:MM) are the domain's (domain/auto_retry.py `checked`): 400."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool
    days: list[StrictInt] = Field(default_factory=lambda: list(DEFAULT_DAYS))
    local_time: Annotated[str, StringConstraints(max_length=64)] = DEFAULT_LOCAL_TIME


class RetryRequest(BaseModel):
    """What makes two retries the same request (Idempotency-Key): the key, and who asks for
    which entry."""

    org_id: str
    user_id: str
    transaction_id: str
    idempotency_key: str
