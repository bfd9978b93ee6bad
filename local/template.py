"""template.yaml, read the way the local stack needs it: routes, functions and their environment,
schedules and event sources, the JWT authorizers, and what intrinsic functions stand for locally.

The template is read as SAM's own translator expands it (`cloudformation`, tools/template.py's
`translate`: the aws-sam-translator library that the SAM CLI and cfn-lint run): Globals are merged
into each function, each event is a resource of its own (AWS::Lambda::EventSourceMapping,
AWS::Scheduler::Schedule, a route of the HttpApi's OpenAPI body), so nothing here re-implements
SAM and a template is free to use any SAM feature the translator knows. Every reader accepts the
template as written (`load`) or translated, and translates the former itself (cached by content).
Parsing and the table's definition are in tools/template.py.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.intrinsics.resolver import IntrinsicsResolver

from local import config
from tools.template import (
    ROOT,
    TEMPLATE_PATH,
    CloudFormationLoader,
    Document,
    Route,
    TemplateError,
    create_table,
    create_table_from,
    function_of,
    load,
    local_path,
    resources,
    routes,
    table_request,
    translate,
)

__all__ = [
    "TEMPLATE_PATH",
    "CloudFormationLoader",
    "Document",
    "Route",
    "TemplateError",
    "create_table",
    "create_table_from",
    "load",
    "resources",
    "routes",
    "table_request",
]


def cloudformation(template: Document) -> Document:
    """The template as the local stack reads it: SAM's translation with the local parameter values
    (config.PARAMETERS) and region; a template that is CloudFormation already, as is. Read-only."""
    return translate(template, config.PARAMETERS, config.REGION)


def referenced_id(value: Any) -> str | None:
    """The logical id that `!Ref X` or `!GetAtt X.Attribute` names; None for anything else."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    argument = value.get("Fn::GetAtt") if isinstance(value, dict) else None
    if isinstance(argument, str):
        return argument.split(".", 1)[0]
    if isinstance(argument, list) and argument and isinstance(argument[0], str):
        return argument[0]
    return None


def _target(template: Document, value: Any) -> str | None:
    """The function of the template that `!Ref X` or `!GetAtt X.Arn` designates (X a function, or
    an alias or version of one), None for anything else (an ARN given as text, a parameter)."""
    logical_id = referenced_id(value)
    return function_of(template, logical_id) if logical_id else None


def _event_name(logical_id: str, function_id: str) -> str:
    """SAM names an event's resource <function id><event name>: the event's name back."""
    return logical_id.removeprefix(function_id) or logical_id


# ----------------------------------------------------------------------------- HTTP routes


@dataclass(frozen=True)
class JwtAuthorizer:
    issuer: str
    audiences: tuple[str, ...]


def jwt_authorizers(template: Document, values: "LocalValues") -> dict[str, JwtAuthorizer]:
    """The HttpApis' JWT authorizers (the security schemes SAM wrote into each API's OpenAPI
    body), issuer and audience resolved to their local values."""
    found = {}
    for api in resources(cloudformation(template), "AWS::ApiGatewayV2::Api").values():
        body = (api.get("Properties") or {}).get("Body") or {}
        schemes = (body.get("components") or {}).get("securitySchemes") or {}
        for name, scheme in schemes.items():
            authorizer = scheme.get("x-amazon-apigateway-authorizer") or {}
            jwt = authorizer.get("jwtConfiguration")
            if authorizer.get("type") == "jwt" and jwt:
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
    environment: Document = field(repr=False)  # unresolved, Globals' variables merged by SAM


def functions(template: Document, root: Path = ROOT) -> dict[str, Function]:
    """Every AWS::Lambda::Function; `root` is the directory its CodeUri is relative to."""
    template = cloudformation(template)
    layers = resources(template, "AWS::Lambda::LayerVersion")
    found = {}
    for logical_id, resource in resources(template, "AWS::Lambda::Function").items():
        props = resource.get("Properties") or {}
        code = local_path(props.get("Code"))
        if code is None:
            raise TemplateError(
                f"{logical_id}: the local stack runs a function from its CodeUri directory"
                " (not from S3, inline code or an image)"
            )
        layer_paths = [
            local_path((layers[ref["Ref"]].get("Properties") or {}).get("Content"))
            for ref in props.get("Layers") or []
            if isinstance(ref, dict) and ref.get("Ref") in layers
        ]
        found[logical_id] = Function(
            logical_id=logical_id,
            code_dir=root / code,
            handler=props["Handler"],
            timeout=int(props.get("Timeout", 3)),
            memory_size=int(props.get("MemorySize", 128)),
            layer_dirs=tuple(root / path for path in layer_paths if path is not None),
            environment=(props.get("Environment") or {}).get("Variables") or {},
        )
    return found


# ----------------------------------------------------------------------------- event sources


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


# What only the mappings of streams (Kinesis, DynamoDB, DocumentDB), Kafka and MQ have: a
# mapping with none of these is an SQS queue's.
_NOT_SQS = frozenset({"StartingPosition", "Topics", "Queues", "SelfManagedEventSource"})


def sqs_event_sources(template: Document) -> list[SqsEventSource]:
    """Every SQS event source mapping to a function of the template, by logical id."""
    template = cloudformation(template)
    found = []
    mappings = resources(template, "AWS::Lambda::EventSourceMapping")
    for logical_id, resource in sorted(mappings.items()):
        props = resource.get("Properties") or {}
        function_id = _target(template, props.get("FunctionName"))
        if function_id is None or _NOT_SQS & props.keys():
            continue
        scaling = props.get("ScalingConfig") or {}
        found.append(
            SqsEventSource(
                function_id=function_id,
                event_name=_event_name(logical_id, function_id),
                queue=props["EventSourceArn"],
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
    """The schedules (AWS::Scheduler::Schedule, which SAM makes of a ScheduleV2 event) of the
    template's functions by name: the function's, or function-event for a function with two."""
    template = cloudformation(template)
    events = []
    for logical_id, resource in resources(template, "AWS::Scheduler::Schedule").items():
        props = resource.get("Properties") or {}
        target = props.get("Target") or {}
        function_id = _target(template, target.get("Arn"))
        if function_id is not None:
            events.append((function_id, _event_name(logical_id, function_id), props, target))
    per_function: dict[str, int] = {}
    for function_id, *_ in events:
        per_function[function_id] = per_function.get(function_id, 0) + 1
    found = {}
    for function_id, event_name, props, target in events:
        name = kebab(function_id)
        if per_function[function_id] > 1:
            name = f"{name}-{kebab(event_name)}"
        found[name] = Schedule(
            name=name,
            function_id=function_id,
            event_name=event_name,
            expression=props.get("ScheduleExpression"),
            input=target.get("Input"),
        )
    return dict(sorted(found.items()))


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

    def names(self) -> dict[str, str]:
        """Every local value by the name a `${...}` of Fn::Sub gives it: X, and X.Attribute."""
        attributes = {f"{resource}.{name}": v for (resource, name), v in self.attributes.items()}
        return self.refs | attributes


class UnresolvedReference(LookupError):
    pass


def resolve(value: Any, values: LocalValues) -> Any:
    """Replace Ref, Fn::GetAtt, Fn::Sub, Fn::Join and Fn::Select by their local values.

    Ref and the ${...} of Fn::Sub are resolved by SAM's IntrinsicsResolver, given every local value
    by name (`LocalValues.names`). It leaves what it cannot resolve in place, does not resolve
    Fn::GetAtt (it only renames the resources in one), Fn::Sub's own variables, ${!Literal} or
    Fn::Join and Fn::Select: that is done here, and anything left unresolved is an error naming it.
    """
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


def _ref(name: Any, values: LocalValues) -> Any:
    resolved = IntrinsicsResolver(values.refs).resolve_parameter_refs({"Ref": name})
    if isinstance(resolved, dict):
        raise UnresolvedReference(f"no local value for !Ref {name} (local/stack.py provides them)")
    return resolved


def _get_att(argument: Any, values: LocalValues) -> str:
    logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
    attribute = resolve(attribute, values)
    if (logical_id, attribute) not in values.attributes:
        raise UnresolvedReference(f"no local value for !GetAtt {logical_id}.{attribute}")
    return values.attributes[(logical_id, attribute)]


# An HttpApi's URL as a template writes it (its default endpoint), and the path after it.
_API_URL = re.compile(
    r"https://\$\{(\w+)\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}(/.*)?", re.ASCII
)
# A ${...} left after substitution (not a ${!Literal}).
_PLACEHOLDER = re.compile(r"\$\{([^}!][^}]*)\}")


def _sub(argument: Any, values: LocalValues) -> str:
    pattern, variables = (argument, {}) if isinstance(argument, str) else argument
    variables = {key: text(resolve(item, values)) for key, item in variables.items()}
    api = _API_URL.fullmatch(pattern)
    if api and api[1] not in variables and api[1] in values.api_urls:
        # Locally the API is the gateway: a link to it must work on the laptop.
        rest = _substitute(api[2], variables, values) if api[2] else ""
        return values.api_urls[api[1]] + rest
    return _substitute(pattern, variables, values)


def _substitute(pattern: str, variables: dict[str, str], values: LocalValues) -> str:
    """The pattern with its ${Name} and ${Resource.Attribute} replaced (SAM's Fn::Sub), the
    Fn::Sub's own variables first, as CloudFormation does."""
    names = values.names() | variables
    substituted = IntrinsicsResolver(names).resolve_parameter_refs({"Fn::Sub": pattern})["Fn::Sub"]
    left = _PLACEHOLDER.search(substituted)
    if left:
        raise UnresolvedReference(f"no local value for ${{{left[1]}}} in !Sub {pattern}")
    return str(substituted).replace("${!", "${")


def _join(argument: Any, values: LocalValues) -> str:
    separator, items = argument
    return str(separator).join(text(item) for item in resolve(items, values))


def _select(argument: Any, values: LocalValues) -> Any:
    index, items = resolve(argument, values)
    return items[int(index)]


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
