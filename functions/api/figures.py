"""Figures of the caller's organization: recovery (domain/recovery.py)."""

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from route_parts import ERROR_CONTENT, caller
from wiring import adapters

from payment_action_center.adapters.http.views import RecoveryView
from payment_action_center.app.recovery import recovery_figures

router = Router()

_DAY = "YYYY-MM-DD, UTC, inclusive (400 invalid_period otherwise)"


@router.get(
    "/metrics/recovery",
    responses={
        200: {"description": "the figures, per currency"},
        400: {
            "description": "from or to not a date (YYYY-MM-DD), from after to, or more than "
            "366 days (invalid_period)",
            "content": ERROR_CONTENT,
        },
    },
)
def recovery(
    first_day: Annotated[
        str | None, Query(alias="from", description=_DAY + "; default: 29 days before to")
    ] = None,
    last_day: Annotated[
        str | None, Query(alias="to", description=_DAY + "; default: today")
    ] = None,
) -> RecoveryView:
    """Failed, recovered (by how), dismissed and at-risk amounts, recovery rate and median time
    to recovery of the failures whose first failure is in from..to (default: the last 30 days)."""
    figures = recovery_figures(
        adapters.recovery, caller(router), first_day, last_day, datetime.now(UTC).date()
    )
    return RecoveryView.of(figures)
