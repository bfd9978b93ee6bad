"""HTTP edges shared by the functions: errors as `{"code", "message"}` (docs/contract.md §4.2),
the domain's and the three only the HTTP edge raises (a body that is not JSON, a delivery that
fails verification, a body too large).

This is an adapter for the Powertools event handler; the domain never imports it.
"""

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from payment_action_center.domain import errors, timestamps
from payment_action_center.domain.errors import DomainError


class InvalidJson(DomainError):
    """A request body that is not JSON text: nothing in it can be read."""

    code = "invalid_json"


class WebhookRejected(DomainError):
    """The delivery failed verification: nothing about it can be trusted."""

    code = "invalid_signature"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


STATUS: dict[type[errors.DomainError], HTTPStatus] = {
    InvalidJson: HTTPStatus.BAD_REQUEST,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.Unauthorized: HTTPStatus.UNAUTHORIZED,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.InvalidCursor: HTTPStatus.BAD_REQUEST,
    errors.InvalidQuery: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.InvalidPayload: HTTPStatus.BAD_REQUEST,
    WebhookRejected: HTTPStatus.UNAUTHORIZED,
    PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.DeliveryInFlight: HTTPStatus.CONFLICT,
}


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False),
        headers=headers,
    )


def error_response(status: int, code: str, message: str, **extra: Any) -> Response[Any]:
    return json_response(status, {"code": code, "message": message, **extra})


def domain_error_response(error: errors.DomainError) -> Response[Any]:
    status = next(
        (code for kind, code in STATUS.items() if isinstance(error, kind)),
        HTTPStatus.BAD_REQUEST,
    )
    extra: dict[str, Any] = {}
    if isinstance(error, errors.InvalidPayload) and error.problems:
        extra["errors"] = [{"loc": p.loc, "msg": p.msg} for p in error.problems]
    if isinstance(error, errors.InvalidQuery):
        extra["errors"] = [{"loc": ["query", error.field_name], "msg": error.message}]
    if isinstance(error, errors.RetryNotAllowed) and error.allowed_at is not None:
        extra["retry_allowed_at"] = timestamps.display(error.allowed_at)
    # A refused signature says no more than that: the reason stays in the log.
    message = "invalid webhook signature" if isinstance(error, WebhookRejected) else error.message
    return error_response(status, error.code, message, **extra)
