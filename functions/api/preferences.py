"""The caller's daily-digest preferences, and the digest's one-click unsubscribe link."""

import hmac
from dataclasses import replace
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel
from route_parts import ERROR_CONTENT, caller
from wiring import adapters, settings

from payment_action_center import ports
from payment_action_center.adapters.http.errors import error_response, json_response
from payment_action_center.app import digest, preferences
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import DEFAULT_LOCALE, Locale

router = Router()
tracer = Tracer()


class NotificationPreferences(BaseModel):
    failed_transactions_digest: bool
    locale: Locale

    @classmethod
    def of(cls, saved: ports.Preferences) -> "NotificationPreferences":
        return cls(failed_transactions_digest=saved.failed_transactions_digest, locale=saved.locale)


def default_locale(organization_id: str) -> Locale:
    """The organization's locale until the admin picks one."""
    organization = adapters.billing.organization(organization_id)
    return organization.locale if organization is not None else DEFAULT_LOCALE


@router.get("/me/notification-preferences")
@tracer.capture_method(capture_response=False)
def get_notification_preferences() -> NotificationPreferences:
    """The caller's daily-digest preferences (not subscribed until they opt in)."""
    who = caller(router)
    return NotificationPreferences.of(
        preferences.current(adapters.digests, who, default_locale(who.org_id))
    )


@router.put(
    "/me/notification-preferences",
    responses={
        400: {"description": "the body is not JSON (invalid_json)", "content": ERROR_CONTENT}
    },
)
@tracer.capture_method(capture_response=False)
def put_notification_preferences(
    wanted: Annotated[preferences.PreferencesChange, Body()],
) -> NotificationPreferences:
    """Opt in or out of the daily digest, in fr-CA or en-CA; sent to the token's email."""
    changed = preferences.change(adapters.digests, caller(router), wanted)
    return NotificationPreferences.of(changed)


class Unsubscribed(BaseModel):
    status: Literal["unsubscribed"]


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
    if not hmac.compare_digest(digest.sign(key, o, u), s):
        return error_response(403, "forbidden", "this unsubscribe link is not valid")
    found = adapters.digests.preferences(o, u)
    if found is not None and found.failed_transactions_digest:
        adapters.digests.save_preferences(
            replace(found, failed_transactions_digest=False, updated_at=timestamps.now())
        )
    return json_response(200, {"status": "unsubscribed"})
