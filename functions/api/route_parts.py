"""What the API's route modules share: the caller (from the JWT claims), the error body's schema
and the path and query parameters of more than one route."""

from typing import Annotated, Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from payment_action_center.adapters.http.auth import caller_from_claims
from payment_action_center.adapters.http.views import ErrorView
from payment_action_center.domain.entries import Caller
from payment_action_center.domain.listing import MAX_LIMIT

# The same Logger as app.py's (same service): keys appended here are in its records.
logger = Logger()

ERROR_CONTENT: dict[str, Any] = {"application/json": {"schema": ErrorView.model_json_schema()}}
EntryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_~.-]{1,128}$")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=1024)]


def caller(router: Router) -> Caller:
    """Who asks: organization, user and roles from the claims API Gateway checked."""
    event = cast(APIGatewayProxyEventV2, router.current_event)
    found = caller_from_claims(event.request_context.authorizer.jwt_claim)
    logger.append_keys(org_id=found.org_id, user_id=found.user_id)
    return found
