"""Request bodies of the HTTP API: JSON objects whatever their declared content type, and
validation errors a person can read. Only the API function imports this (the webhooks function
reads its signed bodies itself, payment_action_center/adapters/http/signatures.py).
"""

import base64
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.types import EventHandlerInstance
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from payment_action_center.adapters.http import strict_json
from payment_action_center.adapters.http.errors import InvalidJson, error_response

NOT_AN_OBJECT = "the body must be a JSON object"


def validation_error_response(error: RequestValidationError) -> Response[Any]:
    """422 naming the refused fields in words: "invalid body: reason: Input should be ..."."""
    problems = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]
    return error_response(422, "validation_error", in_words(problems), errors=problems)


def in_words(problems: list[dict[str, Any]]) -> str:
    """The problems in words, each place named once: `invalid body: a: …; b: …`."""
    wholes: list[str] = []
    fields: dict[str, list[str]] = {}
    for problem in problems:
        where, *path = problem["loc"]
        if path:
            name = ".".join(str(part) for part in path)
            fields.setdefault(where, []).append(f"{name}: {problem['msg']}")
        elif problem["type"] == "missing":
            wholes.append(f"the {where} is required")
        else:
            # A problem with the whole body (NOT_AN_OBJECT): its message already names it.
            wholes.append(str(problem["msg"]))
    places = [f"invalid {where}: " + "; ".join(named) for where, named in fields.items()]
    return "; ".join(wholes + places)


def json_object_body(event: BaseProxyEvent) -> dict[str, Any] | None:
    """The request body as a JSON object, or None when there is none.

    Raises InvalidJson (not the JSON strict_json.py reads: not UTF-8, not JSON, too deep, a name
    twice, an integer too large, a control character) or RequestValidationError (JSON, not an
    object).
    """
    raw = event.body
    data = (base64.b64decode(raw) if event.is_base64_encoded else raw.encode()) if raw else b""
    if not data:
        return None
    try:
        value = strict_json.parse(data)
    except strict_json.JsonRefused as error:
        raise InvalidJson(f"the body is not valid JSON: {error}") from None
    if value is None:
        # JSON null is the documented "no body" of an optional body (DismissRequest | None).
        return None
    if not isinstance(value, dict):
        problem = {"type": "dict_type", "loc": ("body",), "msg": NOT_AN_OBJECT, "input": None}
        raise RequestValidationError([problem])
    return value


class JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, reading every body as JSON whatever its content type.

    Powertools reads a form content type as a form, so `curl -d '{"reason":"dup"}'` (curl's
    default content type is a form) would dismiss with no reason, and `-d 'not json'` would
    dismiss too. Every body this API documents is a JSON object; a route that declares no body
    (the one-click unsubscribe and its form) never gets here.
    """

    # Powertools' own reader also answers None for no body, despite its annotation.
    def _get_body(self, app: EventHandlerInstance) -> dict[str, Any] | None:  # type: ignore[override]
        return json_object_body(app.current_event)


class JsonApiResolver(APIGatewayHttpResolver):
    """An HTTP API with request validation whose bodies are JSON objects (JsonBodyValidation)."""

    def __init__(self) -> None:
        super().__init__(enable_validation=True)
        # Powertools runs its request validation before any router or route middleware, so a
        # middleware would see the body already read as a form: the reader itself is replaced.
        # (Powertools leaves that middleware's __init__ unannotated.)
        self._request_validation_middleware = JsonBodyValidation()  # type: ignore[no-untyped-call]
