"""Standard Webhooks v1 verification (docs/contract.md §4.1): every failure is the same 401."""

import base64
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from payment_action_center.adapters.http.errors import PayloadTooLarge, WebhookRejected
from payment_action_center.adapters.http.signatures import Delivery, json_object, verify
from payment_action_center.domain.errors import InvalidPayload

PAYMENTS_SECRET = "whsec_" + base64.b64encode(b"test-payments-secret-32-bytes!!!").decode()
BILLING_SECRET = "whsec_" + base64.b64encode(b"test-billing-secret-32-bytes!!!!").decode()
BODY = b'{"type":"payment.failed","data":{"amount":12500}}'
B64_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"


def now() -> int:
    # Rounded, not floored: the library compares with its own clock, so ±299 s and ±301 s keep
    # half a second of margin from the 300 s limit whatever the fraction of the current second.
    return round(time.time())


def signed(
    body: bytes = BODY,
    *,
    secret: str = PAYMENTS_SECRET,
    webhook_id: str = "msg_2pQ9xk",
    at: int | None = None,
) -> dict[str, str]:
    """The headers a sender with `secret` attaches to `body`, signed at `at` (default now)."""
    timestamp = now() if at is None else at
    signature = Webhook(secret).sign(
        webhook_id, datetime.fromtimestamp(timestamp, UTC), body.decode()
    )
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def deliver(body: bytes, headers: dict[str, str], secret: str = PAYMENTS_SECRET) -> Delivery:
    return verify(
        secret, body, headers, endpoint="payments", received_at="2026-11-24T15:30:01.000000000Z"
    )


def test_delivery_signed_with_the_endpoint_secret_is_accepted() -> None:
    delivery = deliver(BODY, signed(webhook_id="msg_accepted"))

    assert delivery == Delivery("payments", "msg_accepted", "2026-11-24T15:30:01.000000000Z")


def test_header_names_are_matched_whatever_their_case() -> None:
    headers = {name.title(): value for name, value in signed().items()}

    assert deliver(BODY, headers).webhook_id == "msg_2pQ9xk"


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_delivery_without_a_header_is_rejected(header: str) -> None:
    headers = signed()
    del headers[header]

    with pytest.raises(WebhookRejected):
        deliver(BODY, headers)


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_delivery_with_an_empty_header_is_rejected(header: str) -> None:
    headers = signed() | {header: ""}

    with pytest.raises(WebhookRejected):
        deliver(BODY, headers)


def _right_signature() -> str:
    return signed()["webhook-signature"].removeprefix("v1,")


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(lambda: "v1" + _right_signature(), id="no comma"),
        pytest.param(_right_signature, id="no version"),
        pytest.param(lambda: "v1,@@@@not*base64", id="bad base64"),
        pytest.param(lambda: "v1,abc", id="truncated base64"),
        pytest.param(lambda: "v1," + _right_signature()[:-8], id="short signature"),
        pytest.param(lambda: "v2," + _right_signature(), id="v2 only"),
        pytest.param(lambda: "v1a," + _right_signature(), id="v1a only"),
        pytest.param(lambda: "v1,", id="empty signature"),
        pytest.param(lambda: "v1," + _right_signature() + "\n", id="trailing newline"),
        pytest.param(lambda: "v1," + _right_signature() + ",v1", id="extra comma"),
        pytest.param(lambda: "v1," + base64.b64encode(b"\0" * 32).decode(), id="wrong signature"),
    ],
)
def test_malformed_or_wrong_signature_is_rejected(signature: Callable[[], str]) -> None:
    headers = signed() | {"webhook-signature": signature()}

    with pytest.raises(WebhookRejected):
        deliver(BODY, headers)


def test_delivery_signed_with_the_other_endpoint_secret_is_rejected() -> None:
    headers = signed(secret=BILLING_SECRET)

    with pytest.raises(WebhookRejected):
        deliver(BODY, headers, secret=PAYMENTS_SECRET)


def test_body_changed_by_one_byte_is_rejected() -> None:
    headers = signed(b'{"amount":12500}')

    with pytest.raises(WebhookRejected):
        deliver(b'{"amount":12501}', headers)


def test_signature_replayed_under_another_webhook_id_is_rejected() -> None:
    headers = signed() | {"webhook-id": "msg_other"}

    with pytest.raises(WebhookRejected):
        deliver(BODY, headers)


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_timestamp_more_than_300_seconds_off_is_rejected(offset: int) -> None:
    headers = signed(at=now() + offset)

    with pytest.raises(WebhookRejected):
        deliver(BODY, headers)


@pytest.mark.parametrize("offset", [-299, 0, 299])
def test_timestamp_within_300_seconds_is_accepted(offset: int) -> None:
    assert deliver(BODY, signed(at=now() + offset)).webhook_id == "msg_2pQ9xk"


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param(lambda ts: "1700000000.5", id="1700000000.5"),
        pytest.param(lambda ts: "1.7e9", id="1.7e9"),
        pytest.param(lambda ts: f"{ts}.5", id="now.5"),
        pytest.param(lambda ts: f"{ts}.0", id="now.0"),
        pytest.param(lambda ts: f"{ts / 10**9:.9f}e9", id="now as exponent"),
        pytest.param(lambda ts: f"+{ts}", id="plus sign"),
        pytest.param(lambda ts: f" {ts}", id="leading space"),
        pytest.param(lambda ts: f"{ts}\n", id="trailing newline"),
        pytest.param(lambda ts: "", id="empty"),
        pytest.param(lambda ts: "now", id="word"),
    ],
)
def test_timestamp_that_is_not_whole_unix_seconds_is_rejected(
    timestamp: Callable[[int], str],
) -> None:
    # Signed as the library would check it (the floor of the number), so only the form is wrong.
    headers = signed() | {"webhook-timestamp": timestamp(now())}

    with pytest.raises(WebhookRejected):
        deliver(BODY, headers)


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param(lambda ts: f"0{ts}", id="leading zero"),
        pytest.param(
            lambda ts: "".join(chr(0x0660 + int(d)) for d in str(ts)), id="arabic-indic digits"
        ),
    ],
)
def test_timestamp_header_other_than_the_signed_digits_is_rejected(
    timestamp: Callable[[int], str],
) -> None:
    # The signed content is "{id}.{webhook-timestamp}.{body}" with the header as sent; the
    # library signs str(floor(float(header))) instead, so "0…" or non-ASCII digits verify a
    # signature made over other text than the header. Same reason the code refuses "1.7e9".
    headers = signed() | {"webhook-timestamp": timestamp(now())}

    with pytest.raises(WebhookRejected):
        deliver(BODY, headers)


@pytest.mark.parametrize(
    "arrangement",
    [
        pytest.param(lambda right, wrong: f"{wrong} {right}", id="right one last"),
        pytest.param(lambda right, wrong: f"{right} {wrong}", id="right one first"),
        pytest.param(lambda right, wrong: f"v2,{wrong[3:]} {wrong} {right}", id="among versions"),
    ],
)
def test_several_signatures_of_which_one_is_right_are_accepted(
    arrangement: Callable[[str, str], str],
) -> None:
    right = signed()["webhook-signature"]
    wrong = signed(secret=BILLING_SECRET)["webhook-signature"]
    headers = signed() | {"webhook-signature": arrangement(right, wrong)}

    assert deliver(BODY, headers).webhook_id == "msg_2pQ9xk"


def test_several_signatures_none_right_are_rejected() -> None:
    wrong = signed(secret=BILLING_SECRET)["webhook-signature"]
    other = signed(webhook_id="msg_other")["webhook-signature"]
    headers = signed() | {"webhook-signature": f"{wrong} {other}"}

    with pytest.raises(WebhookRejected):
        deliver(BODY, headers)


def json_body_of(size: int) -> bytes:
    body = b'{"padding":"' + b"x" * (size - 14) + b'"}'
    assert len(body) == size
    return body


def test_body_of_256_kib_is_accepted_when_signed() -> None:
    body = json_body_of(256 * 1024)

    assert deliver(body, signed(body)).webhook_id == "msg_2pQ9xk"


def test_body_over_256_kib_is_too_large_even_when_signed() -> None:
    body = json_body_of(256 * 1024 + 1)

    with pytest.raises(PayloadTooLarge):
        deliver(body, signed(body))


def test_body_over_256_kib_is_too_large_before_any_signature_check() -> None:
    with pytest.raises(PayloadTooLarge):
        deliver(b"x" * (256 * 1024 + 1), {})


def test_every_single_character_change_of_the_signature_is_rejected() -> None:
    headers = signed()
    signature = headers["webhook-signature"]
    accepted = []
    for index, original in enumerate(signature):
        for replacement in map(chr, range(0x20, 0x7F)):
            if replacement == original:
                continue
            forged = signature[:index] + replacement + signature[index + 1 :]
            try:
                deliver(BODY, headers | {"webhook-signature": forged})
            except WebhookRejected:
                continue
            accepted.append(forged)

    assert accepted == [], (
        f"{len(accepted)} altered signatures verify (base64 decoding ignores the unused bits "
        f"of the last character), e.g. {accepted[0]!r} for {signature!r}"
    )


webhook_ids = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=256
)
bodies = st.text(max_size=2000).map(str.encode)


@given(body=bodies, webhook_id=webhook_ids)
def test_any_body_signed_by_the_library_verifies(body: bytes, webhook_id: str) -> None:
    headers = signed(body, webhook_id=webhook_id)

    assert deliver(body, headers).webhook_id == webhook_id


@given(
    body=bodies.filter(bool),
    webhook_id=webhook_ids,
    position=st.integers(min_value=0),
    replacement=st.integers(min_value=0, max_value=255),
)
def test_any_single_byte_change_of_the_body_is_rejected(
    body: bytes, webhook_id: str, position: int, replacement: int
) -> None:
    headers = signed(body, webhook_id=webhook_id)
    index = position % len(body)
    if body[index] == replacement:
        replacement = (replacement + 1) % 256
    changed = body[:index] + bytes([replacement]) + body[index + 1 :]

    with pytest.raises(WebhookRejected):
        deliver(changed, headers)


@given(
    body=bodies,
    webhook_id=webhook_ids,
    position=st.integers(min_value=0, max_value=len("v1,") + 44 - 1),
    flip=st.integers(min_value=1, max_value=63),
)
# The 43rd base64 character with its lowest bit flipped: the change the decoder cannot see.
@example(body=b"{}", webhook_id="msg_1", position=len("v1,") + 42, flip=1)
def test_any_change_of_a_signature_character_to_another_base64_one_is_rejected(
    body: bytes, webhook_id: str, position: int, flip: int
) -> None:
    headers = signed(body, webhook_id=webhook_id)
    signature = headers["webhook-signature"]
    original = signature[position]
    replacement = (
        B64_ALPHABET[B64_ALPHABET.index(original) ^ flip]
        if original in B64_ALPHABET
        else B64_ALPHABET[flip]
    )
    forged = signature[:position] + replacement + signature[position + 1 :]

    with pytest.raises(WebhookRejected):
        deliver(body, headers | {"webhook-signature": forged})


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"{",
        b"\xff\xfe",
        b"[]",
        b'[{"type":"payment.failed"}]',
        b'"text"',
        b"42",
        b"null",
        b"true",
    ],
)
def test_body_that_is_not_a_json_object_is_a_400(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        json_object(body)


def test_json_object_body_is_read() -> None:
    assert json_object(b'{"type": "payment.failed", "data": {}}') == {
        "type": "payment.failed",
        "data": {},
    }


# ----------------------------------------------------------------------------- key rotation
# During a rotation the secret holds the new key and the old one (docs/deploy.md).

ROTATED_SECRET = "whsec_" + base64.b64encode(b"test-payments-secret-rotated-32!").decode()


@pytest.mark.parametrize("separator", [" ", "\n", "  \n "])
@pytest.mark.parametrize("signing_key", [PAYMENTS_SECRET, ROTATED_SECRET])
def test_during_a_rotation_either_key_is_accepted(separator: str, signing_key: str) -> None:
    both = ROTATED_SECRET + separator + PAYMENTS_SECRET
    delivery = verify(both, BODY, signed(secret=signing_key), endpoint="payments", received_at="t")
    assert delivery.webhook_id == "msg_2pQ9xk"


def test_after_a_rotation_the_old_key_is_refused() -> None:
    with pytest.raises(WebhookRejected):
        verify(
            ROTATED_SECRET,
            BODY,
            signed(secret=PAYMENTS_SECRET),
            endpoint="payments",
            received_at="t",
        )


def test_a_delivery_signed_with_neither_key_of_a_rotation_is_refused() -> None:
    both = f"{ROTATED_SECRET} {PAYMENTS_SECRET}"
    with pytest.raises(WebhookRejected):
        verify(both, BODY, signed(secret=BILLING_SECRET), endpoint="payments", received_at="t")


def test_an_empty_secret_is_an_operator_error_not_a_refusal() -> None:
    with pytest.raises(ValueError, match="no signing key"):
        verify("  \n", BODY, signed(), endpoint="payments", received_at="t")


@pytest.mark.parametrize(
    ("second_key", "problem"),
    [
        ("whsec_", "key 2 of the webhook secret has 0 bytes"),
        ("AA==", "key 2 of the webhook secret has 1 bytes"),  # a 1-byte key is guessable
        ("whsec_not*base64!", "key 2 of the webhook secret is not base64"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "key 2 of the webhook secret has 65"),
    ],
    ids=["empty", "one byte", "not base64", "too long"],
)
def test_a_malformed_key_in_a_rotation_fails_loudly_and_verifies_nothing(
    second_key: str, problem: str
) -> None:
    # Even a delivery signed with that very key is not let in: the secret is refused as a whole.
    signed_with_it = signed(secret=second_key) if second_key == "AA==" else signed()
    with pytest.raises(ValueError, match=problem):
        verify(
            f"{PAYMENTS_SECRET} {second_key}",
            BODY,
            signed_with_it,
            endpoint="payments",
            received_at="t",
        )


def test_the_generated_secret_of_the_stack_is_a_valid_key() -> None:
    # template.yaml: GenerateSecretString of 44 letters and digits, shared as whsec_<value>.
    generated = "Q9x2" * 11
    delivery = verify(
        generated, BODY, signed(secret="whsec_" + generated), endpoint="payments", received_at="t"
    )
    assert delivery.endpoint == "payments"
