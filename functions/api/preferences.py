"""The caller's daily-digest preferences, and the digest's one-click unsubscribe link."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities import parameters
from route_parts import ERROR_CONTENT, caller
from wiring import adapters, settings

from payment_action_center.adapters.http.errors import json_response
from payment_action_center.adapters.http.requests import PreferencesChange
from payment_action_center.adapters.http.views import NotificationPreferences, Unsubscribed
from payment_action_center.app import preferences

router = Router()


@router.get("/me/notification-preferences")
def get_notification_preferences() -> NotificationPreferences:
    """The caller's daily-digest preferences (not subscribed until they opt in)."""
    found = preferences.current(adapters.digests, adapters.billing, caller(router))
    return NotificationPreferences.of(found)


@router.put(
    "/me/notification-preferences",
    responses={
        200: {"description": "the preferences as saved"},
        400: {"description": "the body is not JSON (invalid_json)", "content": ERROR_CONTENT},
    },
)
def put_notification_preferences(
    wanted: Annotated[PreferencesChange, Body()],
) -> NotificationPreferences:
    """Opt in or out of the daily digest, in fr-CA or en-CA; sent to the token's email."""
    changed = preferences.change(
        adapters.digests,
        caller(router),
        failed_transactions_digest=wanted.failed_transactions_digest,
        locale=wanted.locale,
    )
    return NotificationPreferences.of(changed)


@router.post(
    "/me/notification-preferences/unsubscribe",
    responses={
        200: {
            "description": "no digest for this admin any more (also when already out)",
            "content": {"application/json": {"schema": Unsubscribed.model_json_schema()}},
        },
        403: {"description": "the link's signature does not match", "content": ERROR_CONTENT},
    },
)
def unsubscribe(
    o: Annotated[str, Query(max_length=128)],
    u: Annotated[str, Query(max_length=256)],
    s: Annotated[str, Query(max_length=128)],
) -> Response[Any]:
    """One-click unsubscribe (RFC 8058) from the digest's List-Unsubscribe header. No JWT: the
    link is signed (`s`) for the organization (`o`) and the admin (`u`)."""
    key = str(parameters.get_secret(settings.unsubscribe_secret_arn, max_age=300)).encode()
    preferences.unsubscribe(adapters.digests, key, o, u, s)
    return json_response(200, {"status": "unsubscribed"})
