"""The template's stateful resources, created on the local services, and what `Ref` and
`Fn::GetAtt` of each stand for there (the functions' environment is resolved from them).

Supported: DynamoDB tables (DynamoDB Local), Secrets Manager secrets, SQS queues (with their
RedrivePolicy), EventBridge buses and SES identities (moto), and the functions' own names. A
resource of another type has no local value: a `!Ref` to it in an environment fails with its name.
"""

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from local import config
from local.template import Document, LocalValues, create_table_from, resolve, resources, text


@dataclass(frozen=True)
class Endpoints:
    dynamodb: str
    aws: str  # the moto server

    def client(self, service: str, **options: Any) -> Any:
        """A client of the local service (boto3's default session: create it in one thread)."""
        return boto3.client(
            service,
            endpoint_url=self.dynamodb if service == "dynamodb" else self.aws,
            region_name=config.REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106
            **options,
        )


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{config.REGION}:{config.ACCOUNT_ID}:{resource}"


def _name(props: Document, key: str, logical_id: str, values: LocalValues) -> str:
    if key in props:
        return str(resolve(props[key], values))
    return f"{config.STACK_NAME}-{logical_id}"


def _table(logical_id: str, props: Document, values: LocalValues, at: Endpoints) -> None:
    name = config.TABLE_NAME if logical_id == "Table" else f"{config.STACK_NAME}-{logical_id}"
    create_table_from(at.client("dynamodb"), name, props)
    values.refs[logical_id] = name
    values.attributes[(logical_id, "Arn")] = _arn("dynamodb", f"table/{name}")


def _secret(logical_id: str, props: Document, values: LocalValues, at: Endpoints) -> None:
    value = config.SECRET_VALUES.get(logical_id) or secrets.token_urlsafe(32)
    name = _name(props, "Name", logical_id, values)
    arn = at.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
    values.refs[logical_id] = arn
    values.attributes[(logical_id, "Id")] = arn


def _queue(logical_id: str, props: Document, values: LocalValues, at: Endpoints) -> None:
    fifo = bool(props.get("FifoQueue"))
    name = _name(props, "QueueName", logical_id, values)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {
        key: text(resolve(props[key], values))
        for key in ("FifoQueue", "ContentBasedDeduplication", "VisibilityTimeout")
        if key in props
    }
    url = at.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    values.refs[logical_id] = url
    values.attributes[(logical_id, "Arn")] = _arn("sqs", name)
    values.attributes[(logical_id, "QueueName")] = name
    values.attributes[(logical_id, "QueueUrl")] = url


def _redrive(logical_id: str, props: Document, values: LocalValues, at: Endpoints) -> None:
    if "RedrivePolicy" in props:
        policy = json.dumps(resolve(props["RedrivePolicy"], values))
        at.client("sqs").set_queue_attributes(
            QueueUrl=values.refs[logical_id], Attributes={"RedrivePolicy": policy}
        )


def _event_bus(logical_id: str, props: Document, values: LocalValues, at: Endpoints) -> None:
    name = _name(props, "Name", logical_id, values)
    arn = at.client("events").create_event_bus(Name=name)["EventBusArn"]
    values.refs[logical_id] = name
    values.attributes[(logical_id, "Arn")] = arn
    values.attributes[(logical_id, "Name")] = name


def _email_identity(logical_id: str, props: Document, values: LocalValues, at: Endpoints) -> None:
    identity = str(resolve(props["EmailIdentity"], values))
    ses = at.client("ses")
    if "@" in identity:
        ses.verify_email_identity(EmailAddress=identity)
    else:
        ses.verify_domain_identity(Domain=identity)
    values.refs[logical_id] = identity


def _function(logical_id: str, props: Document, values: LocalValues, at: Endpoints) -> None:
    name = str(resolve(props.get("FunctionName", logical_id), values))
    values.refs[logical_id] = name
    values.attributes[(logical_id, "Arn")] = _arn("lambda", f"function:{name}")


type Creator = Callable[[str, Document, LocalValues, Endpoints], None]

# In two passes: every resource is named first, then settings that refer to others are applied.
CREATE: dict[str, Creator] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SQS::Queue": _queue,
    "AWS::Events::EventBus": _event_bus,
    "AWS::SES::EmailIdentity": _email_identity,
    "AWS::Serverless::Function": _function,
}
CONFIGURE: dict[str, Creator] = {"AWS::SQS::Queue": _redrive}


def provision(
    template: Document,
    values: LocalValues,
    endpoints: Endpoints,
    *,
    queue_visibility_timeout: int | None = None,
) -> None:
    """Create the template's resources locally; record their Ref/GetAtt values in `values`.

    `queue_visibility_timeout` (seconds), when given, replaces every queue's VisibilityTimeout:
    how long a message a function failed on waits before it is delivered again (tests shorten it).
    """
    for steps in (CREATE, CONFIGURE):
        for logical_id, resource in resources(template).items():
            step = steps.get(resource["Type"])
            if step is not None:
                step(logical_id, resource.get("Properties") or {}, values, endpoints)
    if queue_visibility_timeout is not None:
        sqs = endpoints.client("sqs")
        for logical_id in resources(template, "AWS::SQS::Queue"):
            sqs.set_queue_attributes(
                QueueUrl=values.refs[logical_id],
                Attributes={"VisibilityTimeout": str(queue_visibility_timeout)},
            )
