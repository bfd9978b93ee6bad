"""Sends one organization's expiring card notices (a message from the card notice queue).

Cards already notified for their expiry month are skipped by the ledger; a notice SES refused is
released and the message is reported failed, so SQS delivers it again and only that card is
retried. An unknown outcome keeps the claim: at most one notice per card and expiry month.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from payment_action_center.adapters.aws.sender_reports import SenderMetrics, conclude
from payment_action_center.adapters.aws.ses import SesMailer
from payment_action_center.adapters.aws.sqs_batch import partial_response
from payment_action_center.adapters.clients import built, client, mail_client
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.digest_store import DynamoCardNoticeLedger
from payment_action_center.adapters.emails.card_notice import render_card_notice
from payment_action_center.adapters.settings import Settings
from payment_action_center.app import card_notices
from payment_action_center.app.work import CardNoticeWork


class CardNoticeSenderSettings(Settings):
    sender: str = Field(alias="DIGEST_SENDER_EMAIL", min_length=3)
    configuration_set: str = Field(alias="SES_CONFIGURATION_SET", default="")


settings = CardNoticeSenderSettings.from_env()
logger = Logger()
metrics = Metrics()


class Wiring:
    """What this function talks to, each built on first use and kept for the warm container."""

    billing = built(lambda: DynamoBillingStore(client("dynamodb"), settings.table_name))
    card_notices = built(lambda: DynamoCardNoticeLedger(client("dynamodb"), settings.table_name))
    mailer = built(lambda: SesMailer(mail_client(), settings.configuration_set))


adapters = Wiring()
METRICS = SenderMetrics(sent="CardNoticeSent", failed="CardNoticeFailed")


def send(body: str) -> dict[str, Any]:
    work = CardNoticeWork.parse(body)
    logger.append_keys(org_id=work.organization_id)
    report = card_notices.send_notices(
        work,
        billing=adapters.billing,
        cards=adapters.billing,
        ledger=adapters.card_notices,
        mailer=adapters.mailer,
        sender=settings.sender,
        render=render_card_notice,
    )
    return conclude(report, METRICS, what="card notices", logger=logger, metrics=metrics)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return partial_response(event, send, logger)
