"""The caller's organization, as the console needs it (its name, locale, time zone, links)."""

from aws_lambda_powertools.event_handler.api_gateway import Router
from route_parts import ERROR_CONTENT, caller
from wiring import adapters

from payment_action_center.adapters.http.views import OrganizationView
from payment_action_center.domain.errors import NotFound

router = Router()


@router.get(
    "/organization",
    responses={
        200: {"description": "the organization's settings"},
        404: {
            "description": "the organization's settings have not arrived yet",
            "content": ERROR_CONTENT,
        },
    },
)
def get_organization() -> OrganizationView:
    """The caller's organization, from the billing platform's organization.upserted."""
    organization = adapters.billing.organization(caller(router).org_id)
    if organization is None:
        raise NotFound("the organization's settings have not reached the Action Center yet")
    return OrganizationView.of(organization)
