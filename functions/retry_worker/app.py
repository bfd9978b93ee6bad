"""The retry worker: SQS messages in, one charge (or refund) per retry, outcomes written.

A message whose outcome is unknown (processor timeout, 5xx, a concurrent write) is reported as a
batch item failure: SQS brings it back after the visibility timeout, and after five receives it
goes to the dead-letter queue (alarmed). The retry stays pending until the watchdog settles or
flags it. Nothing is charged twice: see payment_action_center/app/retry_worker.py.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from payment_action_center.adapters.aws.messaging import EventBridgePublisher
from payment_action_center.adapters.aws.sqs_batch import partial_response
from payment_action_center.adapters.clients import built, client
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.processors.choice import ProcessorSettings, processor_for
from payment_action_center.app import retry_worker
from payment_action_center.app.work import RetryWork
from payment_action_center.domain.errors import NotFound
from payment_action_center.ports import ProcessorRefused


class WorkerSettings(ProcessorSettings):
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)


settings = WorkerSettings.from_env()
# A message is started only with this much of the invocation left: one retry's worst case, the
# Stripe adapter's three tries of 8 s and their backoff (adapters/processors/stripe_processor.py)
# and the writes. The records not started go back to the queue unharmed.
RESERVE_MS = 30_000
logger = Logger()
metrics = Metrics()


class Wiring:
    """What this function talks to, each built on first use and kept for the warm container."""

    billing = built(lambda: DynamoBillingStore(client("dynamodb"), settings.table_name))
    entries = built(lambda: DynamoEntryStore(client("dynamodb"), settings.table_name))
    processor = built(lambda: processor_for(settings, client("dynamodb"), settings.table_name))
    publisher = built(lambda: EventBridgePublisher(client("events"), settings.event_bus_name))


adapters = Wiring()


def retry(body: str) -> str:
    work = RetryWork.parse(body)  # a malformed message fails: it ends in the DLQ
    logger.append_keys(entry_id=work.entry_id, attempt=work.attempt)
    try:
        outcome = retry_worker.run(
            work, adapters.entries, adapters.billing, adapters.processor, adapters.publisher
        )
    except NotFound:
        outcome = "unknown transaction"
    except ProcessorRefused:
        # Nothing was sent: the message comes back, ends in the DLQ (alarmed), and the
        # watchdog flags the retry at its deadline. The metric alarms at once.
        metrics.add_metric(name="ProcessorRefused", unit=MetricUnit.Count, value=1)
        raise
    logger.info("retry processed", extra={"outcome": outcome})
    metrics.add_metric(name="RetryProcessed", unit=MetricUnit.Count, value=1)
    return outcome


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return partial_response(
        event,
        retry,
        logger,
        time_left_ms=context.get_remaining_time_in_millis,
        reserve_ms=RESERVE_MS,
    )
