"""template.yaml, read the way the local stack needs it: routes, functions and their environment,
schedules and event sources. Parsing and the table's definition are in tools/template.py."""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import config
from tools.template import (
    ROOT,
    CloudFormationLoader,
    Document,
    Route,
    create_table,
    create_table_from,
    load,
    resources,
    routes,
    table_request,
)

__all__ = [
    "CloudFormationLoader",
    "Route",
    "create_table",
    "create_table_from",
    "load",
    "resources",
    "routes",
    "table_request",
]


# ----------------------------------------------------------------------------- HTTP routes


@dataclass(frozen=True)
class JwtAuthorizer:
    issuer: str
    audiences: tuple[str, ...]


def jwt_authorizers(template: Document, values: "LocalValues") -> dict[str, JwtAuthorizer]:
    """The HttpApis' JWT authorizers, issuer and audience resolved to their local values."""
    found = {}
    for api in resources(template, "AWS::Serverless::HttpApi").values():
        authorizers = ((api.get("Properties") or {}).get("Auth") or {}).get("Authorizers") or {}
        for name, authorizer in authorizers.items():
            jwt = authorizer.get("JwtConfiguration")
            if jwt:
                found[name] = JwtAuthorizer(
                    issuer=resolve(jwt["issuer"], values),
                    audiences=tuple(resolve(a, values) for a in jwt.get("audience", [])),
                )
    return found


# ----------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str  # module.function
    timeout: int  # seconds
    memory_size: int  # MB
    layer_dirs: tuple[Path, ...]
    environment: Document = field(repr=False)  # unresolved: Globals' variables, then its own


def functions(template: Document, root: Path = ROOT) -> dict[str, Function]:
    defaults = (template.get("Globals") or {}).get("Function") or {}
    layers = resources(template, "AWS::Serverless::LayerVersion")
    found = {}
    for logical_id, resource in resources(template, "AWS::Serverless::Function").items():
        props = {**defaults, **resource["Properties"]}
        variables = {
            **((defaults.get("Environment") or {}).get("Variables") or {}),
            **((resource["Properties"].get("Environment") or {}).get("Variables") or {}),
        }
        layer_refs = [*(defaults.get("Layers") or [])]
        layer_refs += [r for r in resource["Properties"].get("Layers") or [] if r not in layer_refs]
        layer_dirs = tuple(
            root / layers[ref["Ref"]]["Properties"]["ContentUri"]
            for ref in layer_refs
            if isinstance(ref, dict) and ref.get("Ref") in layers
        )
        found[logical_id] = Function(
            logical_id=logical_id,
            code_dir=root / props["CodeUri"],
            handler=props["Handler"],
            timeout=int(props.get("Timeout", 3)),
            memory_size=int(props.get("MemorySize", 128)),
            layer_dirs=layer_dirs,
            environment=variables,
        )
    return found


# ----------------------------------------------------------------------------- event sources


def _events(template: Document, event_type: str) -> list[tuple[str, str, Document]]:
    """(function id, event name, event properties) of every event of that type, template order."""
    found = []
    for function_id, function in resources(template, "AWS::Serverless::Function").items():
        for name, event in (function["Properties"].get("Events") or {}).items():
            if event.get("Type") == event_type:
                found.append((function_id, name, event.get("Properties") or {}))
    return found


@dataclass(frozen=True)
class SqsEventSource:
    """An `SQS` event: Lambda's event source mapping from a queue to the function."""

    function_id: str
    event_name: str
    queue: Any  # unresolved, as in the template: the queue's ARN (!GetAtt Queue.Arn)
    batch_size: int
    batching_window: float  # MaximumBatchingWindowInSeconds
    report_batch_item_failures: bool
    maximum_concurrency: int | None
    enabled: Any  # unresolved; true unless the template says otherwise


def sqs_event_sources(template: Document) -> list[SqsEventSource]:
    found = []
    for function_id, name, props in _events(template, "SQS"):
        scaling = props.get("ScalingConfig") or {}
        found.append(
            SqsEventSource(
                function_id=function_id,
                event_name=name,
                queue=props["Queue"],
                batch_size=int(props.get("BatchSize", 10)),
                batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures="ReportBatchItemFailures"
                in (props.get("FunctionResponseTypes") or []),
                maximum_concurrency=(
                    int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None
                ),
                enabled=props.get("Enabled", True),
            )
        )
    return found


@dataclass(frozen=True)
class Schedule:
    """A `ScheduleV2` event: EventBridge Scheduler invoking the function with its Input."""

    name: str  # for POST /_local/schedules/<name>: RetryWatchdogFunction -> retry-watchdog
    function_id: str
    event_name: str
    expression: Any  # unresolved ScheduleExpression
    input: Any  # unresolved Input (a JSON text), None without one


def kebab(logical_id: str) -> str:
    """ "CardExpiryScanFunction" -> "card-expiry-scan" (the Function suffix dropped)."""
    stem = logical_id.removesuffix("Function") or logical_id
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|[0-9]|$)|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", stem)
    return "-".join(word.lower() for word in words)


def schedules(template: Document) -> dict[str, Schedule]:
    """The ScheduleV2 events by name: the function's, or function-event for a function with two."""
    events = _events(template, "ScheduleV2")
    per_function: dict[str, int] = {}
    for function_id, _, _ in events:
        per_function[function_id] = per_function.get(function_id, 0) + 1
    found = {}
    for function_id, event_name, props in events:
        name = kebab(function_id)
        if per_function[function_id] > 1:
            name = f"{name}-{kebab(event_name)}"
        found[name] = Schedule(
            name=name,
            function_id=function_id,
            event_name=event_name,
            expression=props.get("ScheduleExpression"),
            input=props.get("Input"),
        )
    return found


# ----------------------------------------------------------------------------- intrinsics


@dataclass
class LocalValues:
    """What `Ref` and `Fn::GetAtt` stand for in the local stack.

    `api_urls`: each HttpApi's local URL (the gateway's, no trailing slash), which the template's
    `!Sub https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/...` stands for.
    """

    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    api_urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, template: Document, **parameters: str) -> "LocalValues":
        """Pseudo parameters, then the parameters' defaults, then config.PARAMETERS, then these."""
        refs = {
            "AWS::Region": config.REGION,
            "AWS::AccountId": config.ACCOUNT_ID,
            "AWS::StackName": config.STACK_NAME,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        for name, parameter in (template.get("Parameters") or {}).items():
            if "Default" in parameter:
                refs[name] = text(parameter["Default"])
        refs |= config.PARAMETERS | parameters
        return cls(refs=refs)


class UnresolvedReference(LookupError):
    pass


def resolve(value: Any, values: LocalValues) -> Any:
    """Replace Ref, Fn::GetAtt, Fn::Sub, Fn::Join and Fn::Select by their local values."""
    if isinstance(value, list):
        return [resolve(item, values) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
        return {key: resolve(item, values) for key, item in value.items()}
    ((name, argument),) = value.items()
    if name not in _INTRINSICS:
        raise UnresolvedReference(f"{name} is not supported by the local stack (local/template.py)")
    return _INTRINSICS[name](argument, values)


# An HttpApi's URL as a template writes it (its default endpoint), and the path after it.
_API_URL = re.compile(
    r"https://\$\{(\w+)\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}(/.*)?", re.ASCII
)


def _sub(argument: Any, values: LocalValues) -> str:
    pattern, variables = (argument, {}) if isinstance(argument, str) else argument
    api = _API_URL.fullmatch(pattern)
    if api and api[1] not in variables and api[1] in values.api_urls:
        # Locally the API is the gateway: a link to it must work on the laptop.
        rest = _substitute(api[2], resolve(variables, values), values) if api[2] else ""
        return values.api_urls[api[1]] + rest
    return _substitute(pattern, resolve(variables, values), values)


def _join(argument: Any, values: LocalValues) -> str:
    separator, items = argument
    return str(separator).join(text(item) for item in resolve(items, values))


def _select(argument: Any, values: LocalValues) -> Any:
    index, items = resolve(argument, values)
    return items[int(index)]


def _ref(name: str, values: LocalValues) -> str:
    if name not in values.refs:
        raise UnresolvedReference(f"no local value for !Ref {name} (local/stack.py provides them)")
    return values.refs[name]


def _get_att(argument: Any, values: LocalValues) -> str:
    logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
    return _attribute(logical_id, resolve(attribute, values), values)


def _attribute(logical_id: str, attribute: str, values: LocalValues) -> str:
    if (logical_id, attribute) not in values.attributes:
        raise UnresolvedReference(f"no local value for !GetAtt {logical_id}.{attribute}")
    return values.attributes[(logical_id, attribute)]


_PLACEHOLDER = re.compile(r"\$\{([^}!]+)\}")


def _substitute(pattern: str, variables: dict[str, Any], values: LocalValues) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name in variables:
            return text(variables[name])
        if "." in name and not name.startswith("AWS::"):
            logical_id, attribute = name.split(".", 1)
            return _attribute(logical_id, attribute, values)
        return _ref(name, values)

    return _PLACEHOLDER.sub(replace, pattern).replace("${!", "${")


def text(value: Any) -> str:
    """A value as CloudFormation writes it into a string (booleans in lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_INTRINSICS = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
}


def environment(function: Function, values: LocalValues) -> dict[str, str]:
    """The function's environment variables as Lambda would set them, with local values."""
    return {name: text(resolve(value, values)) for name, value in function.environment.items()}
