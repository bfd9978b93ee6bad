"""template.yaml as data, for the local stack (local/template.py), the tests and the benchmarks:
CloudFormation's short tags read as their JSON form, and the table created from its definition
(the single source of truth for its keys and indexes)."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

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
    """Create the template's table under `name` (with its TTL), on DynamoDB Local, moto or AWS.

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
    """Every HttpApi event of every AWS::Serverless::Function."""
    found = []
    for function_id, function in resources(template, "AWS::Serverless::Function").items():
        for event in (function["Properties"].get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            auth = (props.get("Auth") or {}).get("Authorizer")
            if auth is None:
                auth = _http_api_auth(template, props.get("ApiId")).get("DefaultAuthorizer")
            found.append(
                Route(
                    method=str(props.get("Method", "ANY")).upper(),
                    path=props.get("Path", "$default"),
                    function_id=function_id,
                    authorizer=None if auth in (None, "NONE") else auth,
                )
            )
    return found


def _http_api_auth(template: Document, api_id: Any) -> Document:
    apis = resources(template, "AWS::Serverless::HttpApi")
    if isinstance(api_id, dict) and "Ref" in api_id:
        api = apis.get(api_id["Ref"], {})
    else:  # SAM's implicit API, or the only one
        api = next(iter(apis.values()), {})
    return (api.get("Properties") or {}).get("Auth") or {}
