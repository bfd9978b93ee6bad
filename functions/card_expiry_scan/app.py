"""The expiring card scan: which organizations have cards to notify, one queue message each.

EventBridge Scheduler fires it DAILY (13:00 UTC by default, the CardExpiryScanSchedule
parameter) with the scheduled time as input. Daily, not monthly: a card that starts qualifying
later in the month (linked to a scheduled payment, saved in the wallet, its expiry changed) is
notified by the next day's run, so no qualifying customer is missed; the ledger keeps each card
to one notice per expiry month, so daily reruns never send twice.

The scan reads the CardsByExpiry index for next month in UTC; each organization's own "next
month" (in its time zone) is decided by the card_notice_sender.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from payment_action_center.adapters.aws.messaging import SqsQueue
from payment_action_center.adapters.clients import built, client
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.settings import Settings
from payment_action_center.app import card_notices
from payment_action_center.domain import timestamps


class CardExpiryScanSettings(Settings):
    card_notice_queue_url: str = Field(alias="CARD_NOTICE_QUEUE_URL", min_length=1)


settings = CardExpiryScanSettings.from_env()
logger = Logger()
metrics = Metrics()


class Wiring:
    """What this function talks to, each built on first use and kept for the warm container."""

    billing = built(lambda: DynamoBillingStore(client("dynamodb"), settings.table_name))
    card_notice_queue = built(lambda: SqsQueue(client("sqs"), settings.card_notice_queue_url))


adapters = Wiring()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = timestamps.scheduled(event)
    due = card_notices.due(now, adapters.billing)
    adapters.card_notice_queue.send_all(due)
    metrics.add_metric(name="CardNoticesQueued", unit=MetricUnit.Count, value=len(due))
    logger.info("card expiry scan", extra={"now": now, "queued": [w.organization_id for w in due]})
    return {"now": timestamps.display(now), "queued": len(due)}
