"""The Action Center's HTTP API for billing admins (docs/contract.md §4.2); JWT checked by API
Gateway. One module per resource; this one puts them behind one resolver."""

from typing import Any

import expiring_cards
import figures
import openapi
import organization
import preferences
import retry_policy
import transactions
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from wiring import idempotency

from payment_action_center.adapters.http.errors import domain_error_response, json_response
from payment_action_center.adapters.http.json_bodies import (
    JsonApiResolver,
    validation_error_response,
)
from payment_action_center.domain.errors import DomainError

logger = Logger()
metrics = Metrics()
# Bodies are read as JSON whatever their declared content type (curl's default is a form).
app = JsonApiResolver()
app.include_router(transactions.router)
app.include_router(expiring_cards.router)
app.include_router(figures.router)
app.include_router(preferences.router)
app.include_router(organization.router)
app.include_router(retry_policy.router)
app.include_router(openapi.router)


def openapi_document() -> str:
    """The document GET /openapi.json serves (also `make openapi`, tools/openapi.py)."""
    return openapi.document(app)


@app.exception_handler(DomainError)
def refuse(error: DomainError) -> Response[Any]:
    return domain_error_response(error)


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[Any]:
    return validation_error_response(error)


@app.not_found
def no_route(_: Exception) -> Response[Any]:
    return json_response(404, {"code": "not_found", "message": "no such route"})


# clear_state: org_id and user_id (caller) belong to one request, not to the next one.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
