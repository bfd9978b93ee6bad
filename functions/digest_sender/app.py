"""Sends one organization's daily digest (a message from the digest queue).

Recipients already served are skipped by the ledger; a recipient SES refused is released and
the message is reported failed, so SQS delivers it again and only that recipient is retried.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from payment_action_center.adapters.aws.sender_reports import SenderMetrics, conclude
from payment_action_center.adapters.aws.ses import SesMailer
from payment_action_center.adapters.aws.sqs_batch import partial_response
from payment_action_center.adapters.clients import built, client, mail_client
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.digest_store import DynamoDigestStore
from payment_action_center.adapters.dynamodb.policy_store import DynamoRetryPolicyStore
from payment_action_center.adapters.dynamodb.recovery_store import DynamoRecoveryCounters
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.emails.digest import render_digest
from payment_action_center.adapters.settings import Settings
from payment_action_center.app import digest
from payment_action_center.app.work import DigestWork


class DigestSenderSettings(Settings):
    sender: str = Field(alias="DIGEST_SENDER_EMAIL", min_length=3)
    configuration_set: str = Field(alias="SES_CONFIGURATION_SET", default="")
    api_url: str = Field(alias="API_URL", min_length=1)
    unsubscribe_secret_arn: str = Field(alias="UNSUBSCRIBE_SECRET_ARN", min_length=1)


settings = DigestSenderSettings.from_env()
logger = Logger()
metrics = Metrics()


class Wiring:
    """What this function talks to, each built on first use and kept for the warm container."""

    billing = built(lambda: DynamoBillingStore(client("dynamodb"), settings.table_name))
    digests = built(lambda: DynamoDigestStore(client("dynamodb"), settings.table_name))
    mailer = built(lambda: SesMailer(mail_client(), settings.configuration_set))
    policies = built(lambda: DynamoRetryPolicyStore(client("dynamodb"), settings.table_name))
    entries = built(lambda: DynamoEntryStore(client("dynamodb"), settings.table_name))
    recovery = built(lambda: DynamoRecoveryCounters(client("dynamodb"), settings.table_name))


adapters = Wiring()
METRICS = SenderMetrics(
    sent="DigestSent", failed="DigestRecipientFailed", skipped="DigestRecipientSkipped"
)


def links() -> digest.Links:
    key = str(parameters.get_secret(settings.unsubscribe_secret_arn, max_age=300))
    return digest.Links(api_url=settings.api_url, unsubscribe_key=key.encode())


def send(body: str) -> dict[str, Any]:
    work = DigestWork.parse(body)
    logger.append_keys(org_id=work.organization_id, local_date=work.local_date)
    report = digest.send_digest(
        work,
        failures=adapters.digests,
        billing=adapters.billing,
        preferences=adapters.digests,
        ledger=adapters.digests,
        mailer=adapters.mailer,
        sender=settings.sender,
        links=links(),
        render=render_digest,
        policies=adapters.policies,
        entries=adapters.entries,
        recovery=adapters.recovery,
    )
    return conclude(report, METRICS, what="digest", logger=logger, metrics=metrics)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return partial_response(event, send, logger)
