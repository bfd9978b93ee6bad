"""What the HTTP API reads (docs/contract.md §4.2): request bodies and the identity of a retry
request, as pydantic models, so the OpenAPI document follows and a misspelled key is refused."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints

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


class RetryRequest(BaseModel):
    """What makes two retries the same request (Idempotency-Key): the key, and who asks for
    which entry."""

    org_id: str
    user_id: str
    transaction_id: str
    idempotency_key: str
