"""The template's stateful resources, created on the local services, and what `Ref` and
`Fn::GetAtt` of each stand for there (the functions' environment is resolved from them).

The template is read as SAM translates it (local/template.py): plain CloudFormation. Supported:
DynamoDB tables (DynamoDB Local), Secrets Manager secrets, SQS queues (with their RedrivePolicy),
EventBridge buses and SES identities (moto), HTTP APIs (AWS::ApiGatewayV2::Api, SAM's HttpApi: the
gateway) and the functions' own names. A resource of another type has no local value: a `!Ref` to
it in an environment fails with its name.

SES identities: besides the template's AWS::SES::EmailIdentity resources, the addresses the
functions send from, verified outside the stack in AWS (a parameter such as DigestSenderEmail):
every environment value that is an email address, of a function whose role's policies (SAM's
policy templates expanded, a managed policy of the template followed) grant an SES send action.
moto refuses any other sender, as SES would.
"""

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import boto3

from local import config
from local.template import (
    Document,
    LocalValues,
    UnresolvedReference,
    cloudformation,
    create_table_from,
    referenced_id,
    resolve,
    resources,
    text,
)


@dataclass(frozen=True)
class Endpoints:
    dynamodb: str
    aws: str  # the moto server
    gateway: str = ""  # the local HTTP API (what an HttpApi's URL stands for)

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


def _http_api(logical_id: str, props: Document, values: LocalValues, at: Endpoints) -> None:
    values.refs[logical_id] = "local"  # the API id (the gateway's events say apiId "local")
    if at.gateway:
        values.api_urls[logical_id] = at.gateway.rstrip("/")
        values.attributes[(logical_id, "ApiEndpoint")] = at.gateway.rstrip("/")


SES_SEND_ACTIONS = frozenset(
    {
        "ses:SendEmail",
        "ses:SendRawEmail",
        "ses:SendTemplatedEmail",
        "ses:SendBulkEmail",
        "ses:SendBulkTemplatedEmail",
    }
)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sends_email(template: Document, function: Document) -> bool:
    """Whether a function's role grants an SES send: the statements of its inline policies (SAM
    writes a function's Policies there, policy templates expanded) and of the template's managed
    policies it names (`- !Ref SendEmailPolicy` in Policies). AWS managed policies are not read."""
    for document in _role_policies(template, (function.get("Properties") or {}).get("Role")):
        for statement in _as_list(document.get("Statement") or []):
            if not isinstance(statement, dict):
                continue
            actions = _as_list(statement.get("Action") or [])
            if statement.get("Effect") == "Allow" and SES_SEND_ACTIONS & set(actions):
                return True
    return False


def _role_policies(template: Document, role: Any) -> Iterator[Document]:
    """The policy documents of the template's role that `role` (!GetAtt Role.Arn) names."""
    found = resources(template, "AWS::IAM::Role").get(referenced_id(role) or "") or {}
    props = found.get("Properties") or {}
    for policy in props.get("Policies") or []:
        if isinstance(policy, dict) and isinstance(policy.get("PolicyDocument"), dict):
            yield policy["PolicyDocument"]
    managed = resources(template, "AWS::IAM::ManagedPolicy")
    for arn in props.get("ManagedPolicyArns") or []:
        if isinstance(arn, dict) and arn.get("Ref") in managed:
            document = (managed[arn["Ref"]].get("Properties") or {}).get("PolicyDocument")
            if isinstance(document, dict):
                yield document


def email_address(value: str) -> str | None:
    """The bare address if `value` is one email address ("a@b.c" or "Name <a@b.c>")."""
    _, address = parseaddr(value)
    local, _, domain = address.partition("@")
    if local and "." in domain and " " not in address and "," not in value:
        return address
    return None


def sender_addresses(template: Document, values: LocalValues) -> Iterator[str]:
    """The addresses the template's functions may send email from (see the module's doc)."""
    for function in resources(template, "AWS::Lambda::Function").values():
        if not sends_email(template, function):
            continue
        variables = ((function.get("Properties") or {}).get("Environment") or {}).get("Variables")
        for value in (variables or {}).values():
            try:
                resolved = resolve(value, values)
            except UnresolvedReference:  # the stack says which when it builds the environment
                continue
            address = email_address(text(resolved)) if resolved else None
            if address:
                yield address


def _verify_senders(template: Document, values: LocalValues, at: Endpoints) -> None:
    addresses = dict.fromkeys(sender_addresses(template, values))
    if addresses:
        ses = at.client("ses")
        for address in addresses:
            ses.verify_email_identity(EmailAddress=address)


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
    "AWS::ApiGatewayV2::Api": _http_api,
    "AWS::Lambda::Function": _function,
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
    template = cloudformation(template)
    for steps in (CREATE, CONFIGURE):
        for logical_id, resource in resources(template).items():
            step = steps.get(resource["Type"])
            if step is not None:
                step(logical_id, resource.get("Properties") or {}, values, endpoints)
    # SAM's implicit API: provisioned above when an HttpApi event has no ApiId, but a template may
    # name it in a link without such an event.
    if endpoints.gateway:
        values.api_urls.setdefault("ServerlessHttpApi", endpoints.gateway.rstrip("/"))
    _verify_senders(template, values, endpoints)
    if queue_visibility_timeout is not None:
        sqs = endpoints.client("sqs")
        for logical_id in resources(template, "AWS::SQS::Queue"):
            sqs.set_queue_attributes(
                QueueUrl=values.refs[logical_id],
                Attributes={"VisibilityTimeout": str(queue_visibility_timeout)},
            )
