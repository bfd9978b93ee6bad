"""Standard Webhooks v1 verification, shared by every webhook endpoint (design §4.1)."""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payment_action_center.errors import InvalidPayload, PayloadTooLarge, WebhookRejected

MAX_BODY_BYTES = 256 * 1024
# Unix seconds only, as the sender signed them: the library would also take "1.7e9" or
# "01700000000" and check the signature against its own rendering, not the header's.
_TIMESTAMP = re.compile(r"^[1-9][0-9]{0,11}$")
_WEBHOOK_ID = re.compile(r"^[\x21-\x7e]{1,256}$")
# An HMAC-SHA256 in canonical base64: 43 characters and one '='. A non-canonical spelling
# (other unused low bits in the last character) would decode to the same bytes.
_V1_SIGNATURE = re.compile(r"^v1,([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)$")


@dataclass(frozen=True)
class Delivery:
    endpoint: str
    webhook_id: str
    received_at: str


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], *, endpoint: str, received_at: str
) -> Delivery:
    """Check size and signature before anything reads the body; every failure is the same 401.

    The comparison is constant-time (hmac.compare_digest, in the library); the ±300 s window is
    the library's. The reason is kept for the log, never sent back.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get("webhook-id", "")
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise WebhookRejected("missing or malformed webhook-id")
    if not _TIMESTAMP.fullmatch(lowered.get("webhook-timestamp", "")):
        raise WebhookRejected("missing or malformed webhook-timestamp")
    signatures = [
        entry
        for entry in lowered.get("webhook-signature", "").split(" ")
        if _V1_SIGNATURE.fullmatch(entry)
    ]
    if not signatures:
        raise WebhookRejected("no well-formed v1 signature")
    lowered["webhook-signature"] = " ".join(signatures)
    try:
        Webhook(secret).verify(body, lowered, json_parse=False)
    except (WebhookVerificationError, ValueError) as error:
        # ValueError covers a signature entry without a comma, bad base64 and a non-UTF-8 body.
        raise WebhookRejected(f"verification failed: {error}") from None
    return Delivery(endpoint=endpoint, webhook_id=webhook_id, received_at=received_at)


def json_object(body: bytes) -> dict[str, Any]:
    """The verified body as a JSON object, or a 400 that says why not."""
    try:
        parsed = json.loads(body)
    except ValueError as error:
        raise InvalidPayload(f"the body is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise InvalidPayload("the body is not a JSON object")
    return parsed
