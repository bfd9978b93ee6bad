"""Standard Webhooks v1 verification, shared by every webhook endpoint (docs/contract.md §4.1)."""

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payment_action_center.adapters.http import strict_json
from payment_action_center.adapters.http.errors import PayloadTooLarge, WebhookRejected
from payment_action_center.domain.errors import InvalidPayload

MAX_BODY_BYTES = 256 * 1024
SIGNING_KEY_BYTES = range(24, 65)
# Unix seconds only, as the sender signed them: the library would also take "1.7e9" or
# "01700000000" and check the signature against its own rendering, not the header's.
TIMESTAMP_PATTERN = re.compile(r"^[1-9][0-9]{0,11}$")
WEBHOOK_ID_PATTERN = re.compile(r"^[\x21-\x7e]{1,256}$")
# An HMAC-SHA256 in canonical base64: 43 characters and one '='. A non-canonical spelling
# (other unused low bits in the last character) would decode to the same bytes.
V1_SIGNATURE_PATTERN = re.compile(r"^v1,([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)$")


@dataclass(frozen=True)
class Delivery:
    endpoint: str
    webhook_id: str
    received_at: str


def signing_keys(secret: str) -> list[str]:
    """The keys a secret holds: one, or several separated by spaces or new lines while a key is
    being rotated (docs/deploy.md §8): a delivery signed with any of them is accepted.

    Each must be base64 (`whsec_` optional) of 24 to 64 bytes: a stray space or a truncated paste
    would otherwise become a short key anyone could guess. A bad secret is the operator's fault,
    so it fails the invocation (an alarmed error; the sender retries), and the message names the
    key by position, never by value.
    """
    keys = secret.split()
    if not keys:
        raise ValueError("the webhook secret holds no signing key")
    for position, key in enumerate(keys, start=1):
        try:
            size = len(base64.b64decode(key.removeprefix("whsec_"), validate=True))
        except binascii.Error:
            raise ValueError(f"key {position} of the webhook secret is not base64") from None
        if size not in SIGNING_KEY_BYTES:
            raise ValueError(
                f"key {position} of the webhook secret has {size} bytes; a key has 24 to 64"
            )
    return keys


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], *, endpoint: str, received_at: str
) -> Delivery:
    """Check size and signature before anything reads the body; every failure is the same 401.

    The comparison is constant-time (hmac.compare_digest, in the library); the ±300 s window is
    the library's. The reason is kept for the log, never sent back.
    """
    keys = signing_keys(secret)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get("webhook-id", "")
    if not WEBHOOK_ID_PATTERN.fullmatch(webhook_id):
        raise WebhookRejected("missing or malformed webhook-id")
    if not TIMESTAMP_PATTERN.fullmatch(lowered.get("webhook-timestamp", "")):
        raise WebhookRejected("missing or malformed webhook-timestamp")
    signatures = [
        entry
        for entry in lowered.get("webhook-signature", "").split(" ")
        if V1_SIGNATURE_PATTERN.fullmatch(entry)
    ]
    if not signatures:
        raise WebhookRejected("no well-formed v1 signature")
    lowered["webhook-signature"] = " ".join(signatures)
    refusals = []
    for key in keys:
        try:
            Webhook(key).verify(body, lowered, json_parse=False)
        except (WebhookVerificationError, ValueError) as error:
            # ValueError covers a signature entry without a comma, bad base64 and a non-UTF-8 body.
            refusals.append(str(error))
        else:
            return Delivery(endpoint=endpoint, webhook_id=webhook_id, received_at=received_at)
    raise WebhookRejected(f"verification failed: {'; '.join(refusals)}")


def json_object(body: bytes) -> dict[str, Any]:
    """The verified body as a JSON object, or a 400 that says why not."""
    try:
        parsed = strict_json.parse(body)
    except strict_json.JsonRefused as error:
        raise InvalidPayload(f"the body is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise InvalidPayload("the body is not a JSON object")
    return parsed
