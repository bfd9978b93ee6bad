"""The organization's automatic retry policy (docs/contract.md §4.2): soft declines retried by the
service on the policy's days, at the organization's local time (app/auto_retry.py)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from route_parts import ERROR_CONTENT, caller
from wiring import adapters

from payment_action_center.adapters.http.requests import RetryPolicyChange
from payment_action_center.adapters.http.views import RetryPolicyView
from payment_action_center.app import auto_retry

router = Router()


@router.get("/retry-policy")
def get_retry_policy() -> RetryPolicyView:
    """The caller's organization's automatic retry policy (off until a billing admin turns it
    on; then days 1, 3, 7 and 14 after the failure at 09:00 local time unless changed)."""
    return RetryPolicyView.of(auto_retry.current_policy(adapters.policies, caller(router)))


@router.put(
    "/retry-policy",
    responses={
        200: {"description": "the policy as saved"},
        400: {
            "description": "the body is not JSON (invalid_json), or breaks a rule "
            "(invalid_payload): days strictly increasing whole numbers from 1 to 60, at most 6; "
            "local_time HH:MM",
            "content": ERROR_CONTENT,
        },
        403: {"description": "not a billing admin", "content": ERROR_CONTENT},
    },
)
def put_retry_policy(wanted: Annotated[RetryPolicyChange, Body()]) -> RetryPolicyView:
    """Turn the automatic retry policy on or off, and set its days and local time. While on,
    the service retries each soft decline (`decline_class` retry_later) on those days after its
    first failure, within the networks' and the banks' rules, at the organization's local time."""
    saved = auto_retry.change_policy(
        adapters.policies, caller(router), wanted.enabled, wanted.days, wanted.local_time
    )
    return RetryPolicyView.of(saved)
