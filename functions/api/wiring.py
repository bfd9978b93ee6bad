"""What the API function builds once per cold start and its routes share: settings, adapters and
the idempotency records. A module of its own because the route modules cannot import app.py,
which imports them."""

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)
from pydantic import Field

from payment_action_center.adapters.aws.messaging import EventBridgePublisher, SqsQueue
from payment_action_center.adapters.clients import built, client, queue_client
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.digest_store import DynamoDigestStore
from payment_action_center.adapters.dynamodb.policy_store import DynamoRetryPolicyStore
from payment_action_center.adapters.dynamodb.recovery_store import DynamoRecoveryCounters
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.processors.choice import NEEDS_ACCOUNT, ProcessorName
from payment_action_center.adapters.retry_settings import RetryRulesSettings


class ApiSettings(RetryRulesSettings):
    retry_queue_url: str = Field(alias="RETRY_QUEUE_URL", min_length=1)
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    idempotency_hours: int = Field(alias="IDEMPOTENCY_HOURS", default=24, ge=1)
    unsubscribe_secret_arn: str = Field(alias="UNSUBSCRIBE_SECRET_ARN", min_length=1)
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)
    processor: ProcessorName = Field(alias="PROCESSOR")


settings = ApiSettings.from_env()
# Whether a retry needs the organization's account at the processor (actions.request_retry).
retry_needs_account = settings.processor in NEEDS_ACCOUNT
retry_caps = settings.retry_caps()


class Wiring:
    """What this function talks to, each built on first use and kept for the warm container."""

    entries = built(lambda: DynamoEntryStore(client("dynamodb"), settings.table_name))
    billing = built(lambda: DynamoBillingStore(client("dynamodb"), settings.table_name))
    digests = built(lambda: DynamoDigestStore(client("dynamodb"), settings.table_name))
    policies = built(lambda: DynamoRetryPolicyStore(client("dynamodb"), settings.table_name))
    recovery = built(lambda: DynamoRecoveryCounters(client("dynamodb"), settings.table_name))
    retry_queue = built(lambda: SqsQueue(queue_client(), settings.retry_queue_url))
    publisher = built(lambda: EventBridgePublisher(client("events"), settings.event_bus_name))


adapters = Wiring()

# Idempotency-Key: the same request again answers as the first time. The records have a table of
# their own in Powertools' default layout (key `id`, TTL on `expiration`): each record its own
# partition, where one shared partition of the main table would cap every organization together.
idempotency = IdempotencyConfig(expires_after_seconds=settings.idempotency_hours * 3600)
# The stores' client, not one of its own: the container then builds one DynamoDB client, not two.
persistence = DynamoDBPersistenceLayer(
    table_name=settings.idempotency_table_name,
    boto3_client=client("dynamodb"),
)
