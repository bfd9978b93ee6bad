"""Which processor adapter a function talks to (settings PROCESSOR and STAGE), built with what it
needs. Each adapter is imported only when chosen: the Stripe SDK stays out of a sandbox stack's
cold starts, and the sandbox out of a production one's."""

from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import Field, model_validator

from payment_action_center.adapters.settings import Settings

if TYPE_CHECKING:
    from payment_action_center.ports import PaymentProcessor

ProcessorName = Literal["sandbox", "stripe"]
Stage = Literal["dev", "prod"]

# The sandbox charges nobody and answers "succeeded" to any token it does not know: in
# production it would mark real retries recovered without moving a cent. template.yaml's
# Rules refuse it at deploy time; this refuses it again at cold start.
_CHARGES_NOBODY: frozenset[str] = frozenset({"sandbox"})
# Processors that charge on the organization's own account (Organization.processor_account_id):
# a retry of an organization without one is refused at once (409), not left to fail later.
NEEDS_ACCOUNT: frozenset[str] = frozenset({"stripe"})
STRIPE_API = "https://api.stripe.com"
# How long the Stripe key is cached: a rotated key is in use within this time (docs/deploy.md).
KEY_MAX_AGE_SECONDS = 300


class ProcessorSettings(Settings):
    """What a function that charges or looks up payments needs (the retry worker, the watchdog)."""

    stage: Stage = Field(alias="STAGE")
    processor: ProcessorName = Field(alias="PROCESSOR")
    stripe_key_secret_arn: str = Field(alias="STRIPE_API_KEY_SECRET_ARN", default="")
    # Only the local stack sets it (its fake Stripe API, local/fake_stripe.py).
    stripe_api_base: str = Field(alias="STRIPE_API_BASE", default="")

    @model_validator(mode="after")
    def _real_processor_in_production(self) -> Self:
        if self.stage == "prod" and self.processor in _CHARGES_NOBODY:
            raise ValueError(
                f"the {self.processor} processor charges nobody and cannot run in the prod stage"
            )
        if self.processor == "stripe" and not self.stripe_key_secret_arn:
            raise ValueError("the stripe processor needs STRIPE_API_KEY_SECRET_ARN")
        if self.stage == "prod" and self.stripe_api_base not in ("", STRIPE_API):
            # A production key is never sent anywhere but to Stripe.
            raise ValueError(f"STRIPE_API_BASE must be empty or {STRIPE_API} in the prod stage")
        return self


def processor_for(
    settings: ProcessorSettings, dynamodb: Any, table_name: str
) -> "PaymentProcessor":
    if settings.processor == "stripe":
        return _stripe(settings)
    from payment_action_center.adapters.processors.sandbox import SandboxProcessor  # noqa: PLC0415

    return SandboxProcessor(dynamodb, table_name)


def _stripe(settings: ProcessorSettings) -> "PaymentProcessor":
    # Chosen: imported (the module docstring says why not before).
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    from payment_action_center.adapters.processors import stripe_processor  # noqa: PLC0415

    def api_key() -> str:
        return str(
            parameters.get_secret(settings.stripe_key_secret_arn, max_age=KEY_MAX_AGE_SECONDS)
        )

    return stripe_processor.StripeProcessor(api_key, api_base=settings.stripe_api_base or None)
