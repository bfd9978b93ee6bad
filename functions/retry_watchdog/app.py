"""The retry watchdog (every 15 minutes): no retry stays pending forever unnoticed.

Retries pending past their deadline (by method: a card answers at once, an e-check takes days)
are looked up at the processor: settled when it knows, sent again when the work was lost,
otherwise flagged as needing attention (visible on the entry, a metric and a log line). It also
republishes events whose publish failed after their write (the outbox), and runs the
organizations' automatic retry policies (app/auto_retry.py): soft declines retried on the
policy's days, at the organization's local time.
"""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from payment_action_center.adapters.aws.messaging import EventBridgePublisher, SqsQueue
from payment_action_center.adapters.clients import built, client
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.policy_store import DynamoRetryPolicyStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.processors.choice import (
    NEEDS_ACCOUNT,
    ProcessorSettings,
    processor_for,
)
from payment_action_center.adapters.retry_settings import RetryRulesSettings
from payment_action_center.app import auto_retry, watchdog
from payment_action_center.domain import timestamps


# The retry guard's caps too (RetryRulesSettings): an automatic retry obeys the same rules as an
# admin's (app/auto_retry.py).
class WatchdogSettings(ProcessorSettings, RetryRulesSettings):
    retry_queue_url: str = Field(alias="RETRY_QUEUE_URL", min_length=1)
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    credit_card_minutes: int = Field(alias="PENDING_DEADLINE_CREDIT_CARD_MINUTES", ge=1)
    echeck_hours: int = Field(alias="PENDING_DEADLINE_ECHECK_HOURS", ge=1)


settings = WatchdogSettings.from_env()
logger = Logger()
metrics = Metrics()
deadlines = watchdog.Deadlines(
    credit_card=timedelta(minutes=settings.credit_card_minutes),
    echeck=timedelta(hours=settings.echeck_hours),
)
retry_caps = settings.retry_caps()
# Whether a retry needs the organization's account at the processor (as the API's).
retry_needs_account = settings.processor in NEEDS_ACCOUNT


class Wiring:
    """What this function talks to, each built on first use and kept for the warm container."""

    entries = built(lambda: DynamoEntryStore(client("dynamodb"), settings.table_name))
    retry_queue = built(lambda: SqsQueue(client("sqs"), settings.retry_queue_url))
    processor = built(lambda: processor_for(settings, client("dynamodb"), settings.table_name))
    publisher = built(lambda: EventBridgePublisher(client("events"), settings.event_bus_name))
    billing = built(lambda: DynamoBillingStore(client("dynamodb"), settings.table_name))
    policies = built(lambda: DynamoRetryPolicyStore(client("dynamodb"), settings.table_name))


adapters = Wiring()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = timestamps.scheduled(event)
    failed: Exception | None = None
    try:
        done = watchdog.watch(
            adapters.entries,
            adapters.retry_queue,
            adapters.processor,
            adapters.publisher,
            deadlines,
            now,
        )
    except Exception as error:  # the automatic retries run all the same; the run fails after
        logger.exception("the watchdog's checks failed")
        failed, done = error, {}
    done |= auto_retry.run(
        adapters.entries,
        adapters.policies,
        adapters.billing,
        adapters.retry_queue,
        retry_caps,
        now,
        needs_account=retry_needs_account,
    )
    for outcome, count in done.items():
        metrics.add_metric(name=f"Watchdog_{outcome}", unit=MetricUnit.Count, value=count)
    logger.info("watchdog run", extra={"now": now, "done": done})
    if failed is not None:
        raise failed  # Lambda retries the run (both parts are safe to run again), then the DLQ
    return {"now": timestamps.display(now), **done}
