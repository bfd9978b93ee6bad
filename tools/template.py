"""template.yaml as data, for the local stack (local/template.py), the tests and the benchmarks:
CloudFormation's short tags read as their JSON form (`load`, the template as written), the same
template as plain CloudFormation through SAM's own translator (`translate`), and the tables created
from their definitions (the single source of truth for their keys and indexes)."""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"

type Document = dict[str, Any]


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags: `!Ref X` is {"Ref": "X"}, `!Sub s` {"Fn::Sub": s}."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@cache
def _load(path: Path, modified: float) -> Document:
    with path.open(encoding="utf-8") as stream:
        document: Document = yaml.load(stream, Loader=CloudFormationLoader)  # noqa: S506 (safe)
    return document


def load(path: Path = TEMPLATE_PATH) -> Document:
    """The parsed template (cached until the file changes). Treat it as read-only."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the local stack reads everything from it")
    return _load(path, path.stat().st_mtime)


def resources(template: Document, resource_type: str | None = None) -> dict[str, Document]:
    found = template.get("Resources") or {}
    return {k: v for k, v in found.items() if resource_type in (None, v.get("Type"))}


_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")


def table_request(name: str, props: Document) -> Document:
    """The CreateTable request for a table resource's properties (keys, indexes, billing mode)."""
    request: Document = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(indexes):
            request[indexes] = [
                {k: v for k, v in index.items() if k in _INDEX_KEYS} for index in props[indexes]
            ]
    if "ProvisionedThroughput" in props:
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    if "StreamSpecification" in props:
        view = props["StreamSpecification"]["StreamViewType"]
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    return request


def create_table(
    client: Any, name: str, template: Document | None = None, logical_id: str = "Table"
) -> None:
    """Create a table of the template (`logical_id`: Table, IdempotencyTable) under `name`, with
    its TTL, on DynamoDB Local, moto or AWS.

    Deletion protection and point-in-time recovery are left out: tests drop and recreate it.
    """
    template = template if template is not None else load()
    create_table_from(client, name, resources(template)[logical_id]["Properties"])


def create_table_from(client: Any, name: str, props: Document) -> None:
    client.create_table(**table_request(name, props))
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )


# ----------------------------------------------------------------------------- SAM's translation

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
# The bucket that stands for the working tree in a translated template: SAM only accepts S3
# locations for code, so a local CodeUri "functions/api/" becomes s3://<this>/functions%2Fapi%2F
# and comes back with `local_path` (quoted whole, so that an absolute path keeps its "/").
LOCAL_BUCKET = "local-working-tree"
# The properties that hold a local directory, by SAM resource type (and in Globals).
_LOCAL_PATHS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}
_GLOBALS = {"Function": "CodeUri"}


class TemplateError(ValueError):
    """SAM's translator refused the template (its messages, one per problem)."""


def is_sam(template: Document) -> bool:
    """Whether the template still needs SAM's transform (Transform, or any AWS::Serverless::
    resource: the local stack's test templates leave the Transform line out)."""
    transform = template.get("Transform")
    if transform == SAM_TRANSFORM or (isinstance(transform, list) and SAM_TRANSFORM in transform):
        return True
    return any(
        str(resource.get("Type", "")).startswith("AWS::Serverless::")
        for resource in resources(template).values()
    )


def translate(
    template: Document, parameters: Mapping[str, Any] | None = None, region: str = "us-east-1"
) -> Document:
    """The template as plain CloudFormation, as SAM's translator (aws-sam-translator, which the
    SAM CLI and cfn-lint run too) expands it: Globals merged into each resource, every event made
    its own resource (AWS::Lambda::EventSourceMapping, AWS::Scheduler::Schedule, the HttpApi's
    OpenAPI body with its routes and authorizers), roles with their policies. A template without
    SAM resources is returned as is.

    Offline: local code paths become s3://LOCAL_BUCKET/... (see `local_path`), managed policy
    names resolve from the map bundled with the translator, and `region` stands for the deploy
    region. `parameters` are the values SAM may resolve while translating (the rest stays an
    intrinsic). Cached by content: treat the result as read-only.
    """
    if not is_sam(template):
        return template
    key = json.dumps([template, dict(parameters or {}), region], sort_keys=True, default=str)
    return _translate(key)


@lru_cache(maxsize=16)
def _translate(key: str) -> Document:
    # Imported here: the translator (pydantic models of every SAM resource) takes a second or two
    # to import, and most users of this module (tests/integration, bench) never translate.
    import boto3
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template, parameters, region = json.loads(key)
    _with_s3_locations(template)
    # The region only names ARNs (and the pseudo parameters SAM resolves): no call to AWS is made.
    session = boto3.Session(region_name=region)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator({}, Parser(), boto_session=session, metrics=metrics)
    try:
        translated: Document = translator.translate(template, parameter_values=parameters)
    except InvalidDocumentException as error:
        causes = "; ".join(cause.message for cause in error.causes)
        raise TemplateError(f"SAM cannot translate the template: {causes}") from error
    finally:
        metrics.publish()  # to nowhere; unpublished, the translator warns on the console
    return translated


def _with_s3_locations(template: Document) -> None:
    """Replace (in place) every local code path with its s3://LOCAL_BUCKET/... stand-in."""
    globals_ = template.get("Globals") or {}
    targets = [(globals_.get(section), key) for section, key in _GLOBALS.items()]
    for resource in resources(template).values():
        if resource.get("Type") in _LOCAL_PATHS:
            targets.append((resource.get("Properties"), _LOCAL_PATHS[resource["Type"]]))
    for props, key in targets:
        if not isinstance(props, dict):
            continue
        path = props.get(key)
        if isinstance(path, str) and not path.startswith("s3://"):
            props[key] = f"s3://{LOCAL_BUCKET}/{quote(path, safe='')}"


def local_path(location: Any) -> str | None:
    """The local path a translated Code / Content location stands for; None if it is not one of
    `translate`'s stand-ins (a real S3 object, inline code, an image)."""
    if isinstance(location, dict) and location.get("S3Bucket") == LOCAL_BUCKET:
        return unquote(str(location["S3Key"]))
    return None


# ----------------------------------------------------------------------------- HTTP routes


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # as in the template: /transactions/{id}
    function_id: str
    authorizer: str | None  # the authorizer's name; None for Auth: {Authorizer: NONE}

    @property
    def is_public(self) -> bool:
        return self.authorizer is None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def routes(template: Document) -> list[Route]:
    """Every route of every HttpApi, as SAM wrote them into the API's OpenAPI body (the
    template is translated first if it is still SAM): its events, with their authorizers
    (the API's DefaultAuthorizer unless the event says otherwise; NONE for a public route)."""
    found = []
    template = translate(template)
    for api in resources(template, "AWS::ApiGatewayV2::Api").values():
        body = (api.get("Properties") or {}).get("Body") or {}
        for path, operations in (body.get("paths") or {}).items():
            for method, operation in operations.items():
                function_id = _integration_function(template, operation)
                if function_id is None:  # not a method, or not a Lambda proxy of this template
                    continue
                security = operation.get("security", body.get("security")) or [{}]
                authorizer = next(iter(security[0]), None)
                found.append(
                    Route(
                        method=_METHODS.get(method, method.upper()),
                        path=path,
                        function_id=function_id,
                        authorizer=None if authorizer in (None, "NONE") else authorizer,
                    )
                )
    return found


_METHODS = {"x-amazon-apigateway-any-method": "ANY"}
# arn:...:lambda:path/2015-03-31/functions/${ApiFunction.Arn}/invocations (or ${<alias>})
_INVOCATION = re.compile(r"/functions/\$\{([A-Za-z0-9]+)(?:\.Arn)?\}/invocations")


def _integration_function(template: Document, operation: Any) -> str | None:
    """The logical id of the function an OpenAPI operation's Lambda proxy integration invokes."""
    integration = (
        operation.get("x-amazon-apigateway-integration") if isinstance(operation, dict) else None
    )
    uri = (integration or {}).get("uri")
    if isinstance(uri, dict):
        uri = uri.get("Fn::Sub")
    found = _INVOCATION.search(uri) if isinstance(uri, str) else None
    return function_of(template, found[1]) if found else None


def function_of(template: Document, logical_id: str) -> str | None:
    """The AWS::Lambda::Function a logical id stands for: itself, or the function of an alias
    or a version of it (SAM's AutoPublishAlias); None if it is neither."""
    resource = resources(template).get(logical_id) or {}
    if resource.get("Type") == "AWS::Lambda::Function":
        return logical_id
    if resource.get("Type") in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        target = (resource.get("Properties") or {}).get("FunctionName")
        if isinstance(target, dict) and isinstance(target.get("Ref"), str):
            return function_of(template, target["Ref"])
    return None
