"""The daily digest's hourly run: which organizations are due now, one queue message each.

EventBridge Scheduler fires it at minute 0 of every hour with the scheduled time as input. An
organization is due when that time is in the 07:00 hour of its time zone and it had failures in
the 24 hours before. The sending (and the once-per-day guarantee) is the digest_sender's.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from payment_action_center.adapters.aws.messaging import SqsQueue
from payment_action_center.adapters.clients import built, client
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.digest_store import DynamoDigestStore
from payment_action_center.adapters.settings import Settings
from payment_action_center.app import digest
from payment_action_center.domain import timestamps


class DailyDigestSettings(Settings):
    digest_queue_url: str = Field(alias="DIGEST_QUEUE_URL", min_length=1)


settings = DailyDigestSettings.from_env()
logger = Logger()
metrics = Metrics()


class Wiring:
    """What this function talks to, each built on first use and kept for the warm container."""

    billing = built(lambda: DynamoBillingStore(client("dynamodb"), settings.table_name))
    digests = built(lambda: DynamoDigestStore(client("dynamodb"), settings.table_name))
    digest_queue = built(lambda: SqsQueue(client("sqs"), settings.digest_queue_url))


adapters = Wiring()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = timestamps.scheduled(event)
    due = digest.due(now, adapters.digests, adapters.billing)
    adapters.digest_queue.send_all(due)
    metrics.add_metric(name="DigestsQueued", unit=MetricUnit.Count, value=len(due))
    logger.info("digest run", extra={"now": now, "queued": [w.organization_id for w in due]})
    return {"now": timestamps.display(now), "queued": len(due)}
