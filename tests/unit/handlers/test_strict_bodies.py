"""Request bodies are the documented JSON, whatever the declared content type (curl's default is a
form): anything else is refused with a message a person understands, and nothing changes."""

import json
from types import ModuleType
from typing import Any

import pytest

from payment_action_center.app import preferences
from tests.shared.lambdas import Context, answer, cold_start, http_event
from tests.shared.moto_aws import UNSUBSCRIBE_KEY
from tests.unit.handlers.test_api import ADMIN, dismiss, failure, get, get_entry

PREFERENCES = "/me/notification-preferences"
CONTENT_TYPES = {
    "no content type": {},
    "a form (curl -d)": {"content-type": "application/x-www-form-urlencoded"},
    "json": {"content-type": "application/json; charset=utf-8"},
    # Once a 500 (the body was parsed as a form); bodies are JSON whatever the header says.
    "multipart without a boundary": {"content-type": "multipart/form-data"},
}
NOT_JSON = [
    ("not json", "the body is not valid JSON: expecting value at line 1, column 1"),
    ('{"reason":', "the body is not valid JSON: expecting value at line 1, column 11"),
    (
        '{\n  "failed_transactions_digest": true,\n}',
        "the body is not valid JSON: illegal trailing comma before end of object"
        " at line 2, column 37",
    ),
    # "café" in Latin-1, as a misconfigured client would send it.
    (b'{"reason": "caf\xe9"}', "the body is not valid JSON: byte 16 is not UTF-8"),
]
NOT_AN_OBJECT = ['"hello"', "[]", "3"]
# Where the content type cannot matter any more (the body was read as JSON), curl's default.
FORM = CONTENT_TYPES["a form (curl -d)"]


@pytest.fixture
def api(aws: dict[str, str]) -> ModuleType:
    return cold_start("api")


@pytest.fixture(params=list(CONTENT_TYPES), ids=list(CONTENT_TYPES))
def content_type(request: pytest.FixtureRequest) -> dict[str, str]:
    return CONTENT_TYPES[request.param]


def unchanged(api: ModuleType, entry_id: str) -> bool:
    detail = get_entry(api, entry_id)[1]
    return detail["status"] == "failed" and [e["action"] for e in detail["audit"]] == ["received"]


def put_preferences(
    api: ModuleType, body: str | bytes, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    event = http_event("PUT", PREFERENCES, body=body, headers=headers, claims=ADMIN)
    return answer(api.lambda_handler(event, Context()))


def saved_preferences(api: ModuleType) -> Any:
    return get(api, PREFERENCES)[1]


@pytest.fixture
def subscribed(api: ModuleType) -> dict[str, Any]:
    """The admin opted in, in English: what a refused change must leave as it is."""
    wanted = {"failed_transactions_digest": True, "locale": "en-CA"}
    assert put_preferences(api, json.dumps(wanted)) == (200, wanted)
    return wanted


# ------------------------------------------------------------------ POST /transactions/{id}/dismiss


def test_a_json_reason_dismisses_with_it_whatever_the_content_type(
    api: ModuleType, content_type: dict[str, str]
) -> None:
    entry_id = failure()
    status, body = dismiss(api, entry_id, body='{"reason":"dup"}', headers=content_type)
    assert (status, body["status"]) == (200, "dismissed")
    assert get_entry(api, entry_id)[1]["audit"][-1]["detail"] == {"reason": "dup"}


@pytest.mark.parametrize("body", ["", "null"], ids=["empty", "null"])
def test_an_empty_dismiss_body_means_no_reason(
    api: ModuleType, content_type: dict[str, str], body: str
) -> None:
    entry_id = failure()
    assert dismiss(api, entry_id, body=body, headers=content_type)[0] == 200
    assert get_entry(api, entry_id)[1]["audit"][-1]["detail"] == {"reason": None}


@pytest.mark.parametrize(("body", "message"), NOT_JSON)
def test_a_dismiss_body_that_is_not_json_is_400_and_dismisses_nothing(
    api: ModuleType, content_type: dict[str, str], body: str | bytes, message: str
) -> None:
    entry_id = failure()
    assert dismiss(api, entry_id, body=body, headers=content_type) == (
        400,
        {"code": "invalid_json", "message": message},
    )
    assert unchanged(api, entry_id)


@pytest.mark.parametrize("body", NOT_AN_OBJECT)
def test_a_dismiss_body_that_is_not_an_object_is_422_and_dismisses_nothing(
    api: ModuleType, body: str
) -> None:
    entry_id = failure()
    status, refusal = dismiss(api, entry_id, body=body, headers=FORM)
    assert (status, refusal["code"]) == (422, "validation_error")
    assert refusal["message"] == "the body must be a JSON object"
    assert [problem["loc"] for problem in refusal["errors"]] == [["body"]]
    assert unchanged(api, entry_id)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (5, "invalid body: reason: Input should be a valid string"),
        ("x" * 501, "invalid body: reason: String should have at most 500 characters"),
    ],
    ids=["a number", "too long"],
)
def test_a_wrong_reason_is_422_naming_the_field_and_dismisses_nothing(
    api: ModuleType, reason: Any, message: str
) -> None:
    entry_id = failure()
    status, refusal = dismiss(api, entry_id, body=json.dumps({"reason": reason}), headers=FORM)
    assert (status, refusal["code"], refusal["message"]) == (422, "validation_error", message)
    assert [problem["loc"] for problem in refusal["errors"]] == [["body", "reason"]]
    assert unchanged(api, entry_id)


def test_a_misspelled_reason_key_is_422_naming_it_and_dismisses_nothing(api: ModuleType) -> None:
    entry_id = failure()
    status, refusal = dismiss(api, entry_id, body='{"reson": "dup"}', headers=FORM)
    assert (status, refusal["code"]) == (422, "validation_error")
    assert refusal["message"] == "invalid body: reson: Extra inputs are not permitted"
    assert unchanged(api, entry_id)


# --------------------------------------------------------------- PUT /me/notification-preferences


def test_json_preferences_are_saved_whatever_the_content_type(
    api: ModuleType, content_type: dict[str, str]
) -> None:
    wanted = {"failed_transactions_digest": True, "locale": "en-CA"}
    assert put_preferences(api, json.dumps(wanted), content_type) == (200, wanted)
    assert saved_preferences(api) == wanted


@pytest.mark.parametrize(("body", "message"), NOT_JSON)
def test_preferences_that_are_not_json_are_400_and_change_nothing(
    api: ModuleType,
    subscribed: dict[str, Any],
    content_type: dict[str, str],
    body: str | bytes,
    message: str,
) -> None:
    assert put_preferences(api, body, content_type) == (
        400,
        {"code": "invalid_json", "message": message},
    )
    assert saved_preferences(api) == subscribed


@pytest.mark.parametrize("body", NOT_AN_OBJECT)
def test_preferences_that_are_not_an_object_are_422_and_change_nothing(
    api: ModuleType, subscribed: dict[str, Any], body: str
) -> None:
    status, refusal = put_preferences(api, body, FORM)
    assert (status, refusal["code"]) == (422, "validation_error")
    assert refusal["message"] == "the body must be a JSON object"
    assert saved_preferences(api) == subscribed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"failed_transactions_digest": "yes", "locale": "fr-CA"},
            "invalid body: failed_transactions_digest: Input should be a valid boolean",
        ),
        ({"failed_transactions_digest": False}, "invalid body: locale: Field required"),
        (
            {"failed_transactions_digest": False, "locale": "fr-CA", "colour": "blue"},
            "invalid body: colour: Extra inputs are not permitted",
        ),
        (
            {},
            "invalid body: failed_transactions_digest: Field required; locale: Field required",
        ),
        (None, "the body is required"),
    ],
    ids=["not a boolean", "no locale", "an unknown field", "empty object", "no body"],
)
def test_wrong_preferences_are_422_naming_the_fields_and_change_nothing(
    api: ModuleType,
    subscribed: dict[str, Any],
    body: dict[str, Any] | None,
    message: str,
) -> None:
    sent = "" if body is None else json.dumps(body)
    status, refusal = put_preferences(api, sent, FORM)
    assert (status, refusal["code"], refusal["message"]) == (422, "validation_error", message)
    assert saved_preferences(api) == subscribed


def test_the_one_click_unsubscribe_still_takes_its_form_body(
    api: ModuleType, subscribed: dict[str, Any]
) -> None:
    # RFC 8058: the mail client POSTs this form; the route declares no body, so it is not read.
    signed = {"o": "org_demo", "u": "user_1"}
    signed["s"] = preferences.unsubscribe_signature(UNSUBSCRIBE_KEY.encode(), "org_demo", "user_1")
    event = http_event(
        "POST",
        f"{PREFERENCES}/unsubscribe",
        query=signed,
        headers={"content-type": "application/x-www-form-urlencoded"},
        body="List-Unsubscribe=One-Click",
    )
    assert answer(api.lambda_handler(event, Context())) == (200, {"status": "unsubscribed"})
    assert saved_preferences(api)["failed_transactions_digest"] is False


# ------------------------------------------------------------------------------ query parameters


def test_a_wrong_query_parameter_is_named_in_words(api: ModuleType) -> None:
    status, refusal = get(api, "/transactions", query={"limit": "0"})
    assert (status, refusal["code"]) == (422, "validation_error")
    assert refusal["message"] == "invalid query: limit: Input should be greater than or equal to 1"


@pytest.mark.parametrize(
    ("query", "parameter", "words"),
    [
        ({"min_amount": "9" * 41}, "min_amount", "less than or equal to 9007199254740991"),
        ({"max_amount": "9007199254740992"}, "max_amount", "less than or equal to"),
        (
            {"from": "2026-11-25T00:00:00Z", "to": "2026-11-24T00:00:00Z"},
            "to",
            "is before from",
        ),
        ({"min_amount": "500", "max_amount": "100"}, "max_amount", "is below min_amount"),
    ],
)
def test_query_bounds_the_store_cannot_take_are_422_naming_the_parameter(
    api: ModuleType, query: dict[str, str], parameter: str, words: str
) -> None:
    status, refusal = get(api, "/transactions", query=query)
    assert (status, refusal["code"]) == (422, "validation_error"), refusal
    assert parameter in refusal["message"] and words in refusal["message"]


HOSTILE = [
    (b"[" * 20_000 + b"]" * 20_000, "nested deeper than 32 levels"),
    (b'{"reason": "a", "reason": "b"}', "the name 'reason' appears twice"),
    (b'{"reason": "dup\\u0000licate"}', "U+0000"),
    (b'{"reason": "\\ud800"}', "U+D800"),
    (b'{"reason": ' + b"1" * 5000 + b"}", "more than 32 characters"),
]


@pytest.mark.parametrize(("body", "reason"), HOSTILE)
def test_a_hostile_dismiss_body_is_400_and_dismisses_nothing(
    api: ModuleType, body: bytes, reason: str
) -> None:
    entry_id = failure()
    status, refusal = dismiss(api, entry_id, body=body, headers=FORM)
    assert (status, refusal["code"]) == (400, "invalid_json"), refusal
    assert reason in refusal["message"]
    assert unchanged(api, entry_id)


@pytest.mark.parametrize(("body", "reason"), HOSTILE)
def test_hostile_preferences_are_400_and_change_nothing(
    api: ModuleType, body: bytes, reason: str
) -> None:
    before = saved_preferences(api)
    status, refusal = put_preferences(api, body)
    assert (status, refusal["code"]) == (400, "invalid_json"), refusal
    assert reason in refusal["message"]
    assert saved_preferences(api) == before
