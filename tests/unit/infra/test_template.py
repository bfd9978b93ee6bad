"""template.yaml checked by property, not line by line: whatever the template's shape, every
function runs python3.13 on arm64 with bounded logs and alarms; each one has a role of its own
that grants what its code calls (the indexes its use cases query, its queue if it consumes one)
and nothing beyond (test_least_privilege.py judges SAM's expansion); its settings are what its
pydantic model reads and name the right resources; every queue dead-letters what fails and every
dead-letter queue alarms; the tables outlive the stack, the idempotency records' in Powertools'
own layout; JWTs guard every route but the public ones, throttled for their callers, and CORS
names the configured origins only; the sandbox processor never reaches prod; and a sample event
exists for every route and every other event source."""

import ast
import functools
import hashlib
import inspect
import json
import math
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from tools.template import load, resources, routes, translate

type Doc = dict[str, Any]

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
LAYER = ROOT / "layers/core/payment_action_center"
TEMPLATE: Doc = load()  # read-only; a module global so that a scratch check can swap it


def of_type(resource_type: str) -> dict[str, Doc]:
    return {k: v for k, v in TEMPLATE["Resources"].items() if v["Type"] == resource_type}


def functions() -> dict[str, Doc]:
    """Each function's properties merged over the Globals it inherits (Environment too)."""
    defaults = TEMPLATE.get("Globals", {}).get("Function", {})
    merged = {}
    for name, f in of_type("AWS::Serverless::Function").items():
        props = {**defaults, **f["Properties"]}
        variables = {**defaults.get("Environment", {}).get("Variables", {})}
        variables |= f["Properties"].get("Environment", {}).get("Variables", {})
        merged[name] = props | {"Variables": variables}
    return merged


def events(event_type: str) -> list[tuple[str, Doc]]:
    """(function, event properties) of every event of that type."""
    return [
        (name, event.get("Properties", {}))
        for name, f in of_type("AWS::Serverless::Function").items()
        for event in f["Properties"].get("Events", {}).values()
        if event["Type"] == event_type
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def ref(value: Any) -> str | None:
    """`!Ref X` and `!GetAtt X.Attr` -> "X"; anything else -> None."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def queue_of(arn: Any) -> tuple[str, Doc]:
    name = ref(arn)
    assert name and TEMPLATE["Resources"][name]["Type"] == "AWS::SQS::Queue", arn
    return name, TEMPLATE["Resources"][name]["Properties"]


def dead_letter_queues() -> set[str]:
    """Queues that receive what failed: redrive targets and the schedules' dead-letter queues."""
    targets = [q["Properties"].get("RedrivePolicy") for q in of_type("AWS::SQS::Queue").values()]
    found = {queue_of(t["deadLetterTargetArn"])[0] for t in targets if t}
    return found | {queue_of(s["DeadLetterConfig"]["Arn"])[0] for _, s in events("ScheduleV2")}


def alarms() -> dict[str, Doc]:
    return {k: v["Properties"] for k, v in of_type("AWS::CloudWatch::Alarm").items()}


FUNCTIONS = sorted(functions())
QUEUES = sorted(of_type("AWS::SQS::Queue"))
CONSUMED = sorted((name, queue_of(e["Queue"])[0]) for name, e in events("SQS"))
SCHEDULED = sorted(name for name, _ in events("ScheduleV2"))
DEAD_LETTER_QUEUES = sorted(dead_letter_queues())
ALARMS = sorted(alarms())


# ----------------------------------------------------------------------------- references


def references(value: Any) -> Iterator[str]:
    """Every logical name a Ref, GetAtt, Sub or If points at (pseudo parameters left out)."""
    if isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key in ("Ref", "Fn::GetAtt") and not str(ref(value)).startswith("AWS::"):
                yield str(ref(value))
            elif key == "Fn::Sub":
                text, local = (inner, {}) if isinstance(inner, str) else inner
                names = re.findall(r"\$\{([^!}.]+)[^}]*\}", text)
                yield from (n for n in names if n not in local and not n.startswith("AWS::"))
                yield from references(local)
            elif key == "Fn::If":
                yield f"condition:{inner[0]}"
                yield from references(inner[1:])
            else:
                yield from references(inner)


@pytest.mark.parametrize("section", ["Rules", "Conditions", "Globals", "Resources", "Outputs"])
def test_every_reference_names_a_parameter_resource_or_condition(section: str) -> None:
    """A dangling Ref only fails at deploy time, after a whole build."""
    known = {*TEMPLATE["Parameters"], *TEMPLATE["Resources"]}
    known |= {f"condition:{c}" for c in TEMPLATE.get("Conditions", {})}
    for name in references(TEMPLATE.get(section, {})):
        assert name in known, f"{section}: {name} does not exist"
    for name, resource in TEMPLATE["Resources"].items():
        if "Condition" in resource:
            assert resource["Condition"] in TEMPLATE["Conditions"], name


# ----------------------------------------------------------------------------- functions


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_runs_python313_on_arm64_traced_with_the_core_layer(name: str) -> None:
    props = functions()[name]
    assert [props[k] for k in ("Runtime", "Architectures", "Tracing")] == [
        *("python3.13", ["arm64"], "Active")
    ]
    assert {"Ref": "CoreLayer"} in props["Layers"]
    assert props["Handler"] == "app.lambda_handler"
    assert (ROOT / props["CodeUri"] / "app.py").is_file()


def test_the_core_layer_is_built_for_python313_on_arm64() -> None:
    (layer,) = of_type("AWS::Serverless::LayerVersion").values()
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/core"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    # layers/core/Makefile builds it: arm64 wheels for Python 3.13 (the pip flags checked here).
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    makefile = (ROOT / "layers" / "core" / "Makefile").read_text(encoding="utf-8")
    assert "build-CoreLayer:" in makefile
    flags = ("--platform manylinux2014_aarch64", "--python-version 3.13", "--only-binary=:all:")
    assert all(flag in makefile for flag in flags)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_logs_to_its_own_group(name: str) -> None:
    """Without it Lambda creates the group itself: kept forever, and left behind by the stack."""
    groups = [g["Properties"].get("LogGroupName") for g in of_type("AWS::Logs::LogGroup").values()]
    assert {"Fn::Sub": f"/aws/lambda/${{{name}}}"} in groups, f"{name} has no log group"


BENCH_RESULTS = ROOT / "bench" / "results.json"


def measured_peaks() -> dict[str, float]:
    """Each function's peak resident set in MB as `make bench` last measured and committed it
    (bench/memory.py, `peak_rss_mb` in bench/results.json); empty when it never was."""
    if not BENCH_RESULTS.is_file():
        return {}
    figures = json.loads(BENCH_RESULTS.read_text(encoding="utf-8")).get("peak_rss_mb", {})
    return {name: float(figure["count"]) for name, figure in figures.items()}


# The functions people wait on (an admin's page, a processor's webhook) keep the CPU of 512 MB.
WAITED_ON = {"ApiFunction", "WebhooksFunction"}


def memory_by_the_rule(name: str, peak_mb: float) -> int:
    """template.yaml's rule: twice the peak, rounded up to 128 MB, at least 256 (512 for the
    functions people wait on)."""
    return max(math.ceil(2 * peak_mb / 128) * 128, 512 if name in WAITED_ON else 256)


def test_the_rule_rounds_up_and_keeps_its_floors() -> None:
    assert memory_by_the_rule("RetryWorkerFunction", 59.9) == 256
    assert memory_by_the_rule("RetryWorkerFunction", 130.0) == 384
    assert memory_by_the_rule("ApiFunction", 63.9) == 512
    assert memory_by_the_rule("ApiFunction", 300.0) == 640


def test_every_function_has_a_committed_peak() -> None:
    assert set(measured_peaks()) == set(FUNCTIONS), "run make bench (peak_rss_mb)"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_memory_follows_the_rule_from_its_measured_peak(name: str) -> None:
    """Lambda's CPU follows MemorySize: each function is sized from the peak `make bench`
    measured and committed (bench/memory.py), by the rule above, written in template.yaml."""
    memory = TEMPLATE["Resources"][name]["Properties"].get("MemorySize")
    assert memory == memory_by_the_rule(name, measured_peaks()[name]), f"{name}: {memory} MB"


@pytest.mark.parametrize("name", sorted(of_type("AWS::Logs::LogGroup")))
def test_log_group_has_bounded_retention_and_the_shared_key(name: str) -> None:
    """Function and access logs alike. No KMS key today; if one appears, every group has it."""
    props = TEMPLATE["Resources"][name]["Properties"]
    assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    keys = {
        json.dumps(g["Properties"].get("KmsKeyId")) for g in of_type("AWS::Logs::LogGroup").values()
    }
    assert len(keys) == 1, keys


def test_the_api_logs_its_access_to_a_group_of_the_stack() -> None:
    for api in of_type("AWS::Serverless::HttpApi").values():
        group = ref(api["Properties"]["AccessLogSettings"]["DestinationArn"])
        assert TEMPLATE["Resources"][group]["Type"] == "AWS::Logs::LogGroup"


# ----------------------------------------------------------------------------- settings


def settings_classes(paths: list[Path]) -> dict[str, tuple[list[str], dict[str, bool]]]:
    """Each pydantic settings class: its bases, and the variables its fields read (alias ->
    required, i.e. no default)."""
    found = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                calls = [
                    c for c in ast.walk(node) if getattr(getattr(c, "func", 0), "id", 0) == "Field"
                ]
                keywords = [{k.arg: k.value for k in c.keywords} for c in calls]
                fields = {k["alias"].value: "default" not in k for k in keywords if "alias" in k}
                found[node.name] = ([getattr(b, "id", "") for b in node.bases], fields)
    return found


def settings_of(name: str) -> dict[str, bool]:
    """What the function's model reads (functions/<name>/*.py), with what its bases read
    (layers/core/payment_action_center/adapters/settings.py, processors/choice.py)."""
    shared = settings_classes(
        [LAYER / "adapters/settings.py", LAYER / "adapters/processors/choice.py"]
    )
    own = settings_classes(sorted((ROOT / functions()[name]["CodeUri"]).glob("*.py")))
    classes = shared | own

    def read(cls: str) -> dict[str, bool]:
        bases, fields = classes[cls]
        return {k: v for b in bases if b in classes for k, v in read(b).items()} | fields

    (model,) = [c for c, (_, fields) in own.items() if fields]
    return read(model)


# Read by Powertools itself (Logger, Metrics, Tracer), not by the settings models.
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_gets_exactly_the_settings_its_model_reads(name: str) -> None:
    """A missing setting fails at cold start; an unread one is a grant or a name nobody uses.
    A Globals variable may reach a function that does not read it, if some function does."""
    variables = set(functions()[name]["Variables"])
    model = settings_of(name)
    assert {k for k, required in model.items() if required} <= variables
    own = set(TEMPLATE["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {}))
    assert own <= set(model), f"{name} sets what it never reads"
    read_somewhere = {k for f in FUNCTIONS for k in settings_of(f)}
    assert variables - set(model) <= read_somewhere | POWERTOOLS


def camel(words: str) -> str:
    return "".join(w.capitalize() for w in words.split("_"))


# A setting named <WORDS><suffix> holds what Ref returns for resource <Words><kind> of this type.
RESOURCE_SETTINGS = {
    "_QUEUE_URL": ("Queue", {"AWS::SQS::Queue"}),
    "_SECRET_ARN": ("Secret", {"AWS::SecretsManager::Secret"}),
    "_NAME": ("", {"AWS::Events::EventBus", "AWS::DynamoDB::Table"}),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_setting_names_the_resource_or_parameter_it_is_named_after(name: str) -> None:
    """PAYMENTS_WEBHOOK_SECRET_ARN is PaymentsWebhookSecret's ARN, STAGE the Stage parameter:
    a setting pointing at the wrong queue or secret fails here rather than in production."""
    for setting, value in functions()[name]["Variables"].items():
        target = ref(value)
        if setting.startswith("POWERTOOLS_") or setting == "API_URL" or target is None:
            continue
        suffix = next((s for s in RESOURCE_SETTINGS if setting.endswith(s)), None)
        if suffix and target in TEMPLATE["Resources"]:
            kind, types = RESOURCE_SETTINGS[suffix]
            assert target == camel(setting.removesuffix(suffix)) + kind, (name, setting)
            assert TEMPLATE["Resources"][target]["Type"] in types, (name, setting)
            assert "Ref" in value, (name, setting)  # Ref: the URL, the ARN or the name
        else:
            assert value == {"Ref": camel(setting)}, (name, setting)
            assert camel(setting) in TEMPLATE["Parameters"], (name, setting)


def test_the_literal_settings_are_what_the_design_asks() -> None:
    variables = functions()["RetryWatchdogFunction"]["Variables"]
    # A card retry is overdue after 30 minutes pending, an e-check after 5 days.
    assert int(variables["PENDING_DEADLINE_CREDIT_CARD_MINUTES"]) == 30
    assert int(variables["PENDING_DEADLINE_ECHECK_HOURS"]) == 120
    for props in functions().values():
        assert props["Variables"]["POWERTOOLS_SERVICE_NAME"] == "payment-action-center"
        assert props["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "PaymentActionCenter"
        if "API_URL" in props["Variables"]:  # the unsubscribe link's base: no trailing slash
            url = props["Variables"]["API_URL"]["Fn::Sub"]
            assert url == "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"


# ----------------------------------------------------------------------------- routes


def http_routes() -> dict[str, Doc]:
    """'METHOD /path' -> the HttpApi event's properties, over every function."""
    found = {}
    for _, props in events("HttpApi"):
        found[f"{props['Method'].upper()} {props['Path']}"] = props
    return found


PUBLIC_ROUTES = {
    "POST /webhooks/payments",
    "POST /webhooks/billing",
    "POST /webhooks/stripe",  # Stripe-Signature is the key (adapters/http/stripe_webhook.py)
    "GET /openapi.json",
    # RFC 8058 one-click unsubscribe: a mail client POSTs with no JWT; a signed token is the key.
    "POST /me/notification-preferences/unsubscribe",
}


def test_the_http_api_checks_jwts_from_the_configured_issuer_by_default() -> None:
    (api,) = of_type("AWS::Serverless::HttpApi").values()
    auth = api["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    assert authorizer["JwtConfiguration"] == {
        "issuer": {"Ref": "JwtIssuer"},
        "audience": [{"Ref": "JwtAudience"}],
    }


@pytest.mark.parametrize("key", sorted(http_routes()))
def test_only_the_public_routes_skip_the_jwt_authorizer(key: str) -> None:
    route = http_routes()[key]
    # An HttpApi event without ApiId lands on SAM's implicit API, which has no authorizer.
    assert TEMPLATE["Resources"][ref(route.get("ApiId"))]["Type"] == "AWS::Serverless::HttpApi"
    authorizer = route.get("Auth", {}).get("Authorizer")
    assert (authorizer == "NONE") == (key in PUBLIC_ROUTES), key
    assert authorizer in (None, "NONE", "JwtAuthorizer"), key


# ----------------------------------------------------------------------------- table


# Each table and the attribute its TTL reads: the stores' `expires_at` (adapters/dynamodb/keys.py),
# Powertools' default `expiration` for the idempotency records.
TABLES = {"Table": "expires_at", "IdempotencyTable": "expiration"}


def test_the_tables_are_the_data_and_the_idempotency_records() -> None:
    assert set(of_type("AWS::DynamoDB::Table")) == set(TABLES)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_table_is_protected_and_outlives_the_stack(name: str) -> None:
    table = TEMPLATE["Resources"][name]
    props = table["Properties"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": TABLES[name], "Enabled": True}
    assert "TableName" not in props  # dev and prod share an account
    # local/template.py sends these to CreateTable as they are (no intrinsics).
    for key in ["AttributeDefinitions", "KeySchema", "BillingMode", "TimeToLiveSpecification"]:
        assert "Ref" not in json.dumps(props[key]) and "Fn::" not in json.dumps(props[key]), key


def powertools_default(parameter: str) -> Any:
    """A default of Powertools' DynamoDBPersistenceLayer (key_attr, expiry_attr, ...)."""
    return inspect.signature(DynamoDBPersistenceLayer).parameters[parameter].default


def persistence_layer_arguments() -> dict[str, str]:
    """The keyword arguments functions/api/wiring.py gives DynamoDBPersistenceLayer, as code."""
    tree = ast.parse((ROOT / "functions/api/wiring.py").read_text(encoding="utf-8"))
    (call,) = [
        c
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "DynamoDBPersistenceLayer"
    ]
    assert not call.args
    return {str(k.arg): ast.unparse(k.value) for k in call.keywords}


def test_the_idempotency_records_have_powertools_default_layout_each_its_own_partition() -> None:
    """Powertools' layout for a table of its own: the key `id` alone (a record per partition,
    none shared by every organization), TTL on `expiration`; wiring.py keeps the defaults."""
    props = TEMPLATE["Resources"]["IdempotencyTable"]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert "GlobalSecondaryIndexes" not in props and "LocalSecondaryIndexes" not in props
    assert powertools_default("key_attr") == "id"
    assert powertools_default("sort_key_attr") is None
    assert powertools_default("expiry_attr") == TABLES["IdempotencyTable"]
    arguments = persistence_layer_arguments()
    assert set(arguments) == {"table_name", "boto3_client"}  # no key_attr, sort_key_attr, ...
    assert arguments["table_name"] == "settings.idempotency_table_name"


def test_only_the_api_is_told_the_idempotency_table() -> None:
    told = {
        name
        for name, props in functions().items()
        if {"Ref": "IdempotencyTable"} in props["Variables"].values()
    }
    assert told == {"ApiFunction"}
    assert functions()["ApiFunction"]["Variables"]["IDEMPOTENCY_TABLE_NAME"] == {
        "Ref": "IdempotencyTable"
    }


def test_the_table_has_its_keys_and_four_indexes_on_literal_string_attributes() -> None:
    """layers/core/payment_action_center/adapters/dynamodb/keys.py writes these attributes, and
    local/template.py sends these properties to CreateTable as they are (no intrinsics)."""
    props = TEMPLATE["Resources"]["Table"]["Properties"]
    indexes = {
        i["IndexName"]: " ".join([k["AttributeName"] for k in i["KeySchema"]] + [projection])
        for i in props["GlobalSecondaryIndexes"]
        if (projection := i["Projection"]["ProjectionType"])
    }
    assert indexes == {
        "OpenEntries": "open_pk open_sk ALL",
        "CardsByExpiry": "expiry_pk expiry_sk ALL",
        "PendingRetries": "pending_pk pending_sk ALL",
        "FailuresByDay": "failday_pk failday_sk KEYS_ONLY",
    }
    schemas = [props["KeySchema"], *(i["KeySchema"] for i in props["GlobalSecondaryIndexes"])]
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["pk", "sk"]
    assert all([k["KeyType"] for k in schema] == ["HASH", "RANGE"] for schema in schemas)
    # CloudFormation rejects a defined attribute that no key uses, and a key left undefined.
    keys = {k["AttributeName"] for schema in schemas for k in schema}
    definitions = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
    assert len(definitions) == len(props["AttributeDefinitions"])
    assert set(definitions) == keys and set(definitions.values()) == {"S"}
    literal = ["AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"]
    for key in [*literal, "TimeToLiveSpecification"]:
        assert "Ref" not in json.dumps(props[key]) and "Fn::" not in json.dumps(props[key]), key


# ----------------------------------------------------------------------------- IAM

SES_ARN = re.compile(r"arn:\$\{AWS::Partition\}:ses:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(.+)")


def resource_label(resource: Any) -> str:
    """`!GetAtt X.Arn` and `!Ref X` -> "X"; `!Sub ${X.Arn}/suffix` -> "X/suffix";
    `!Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:what` -> "ses:what";
    `!If [Condition, value, !Ref AWS::NoValue]` -> "<value's label> if Condition"."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::If" in resource:
        condition, value, otherwise = resource["Fn::If"]
        assert otherwise == {"Ref": "AWS::NoValue"}, resource
        return f"{resource_label(value)} if {condition}"
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        if ses := SES_ARN.fullmatch(resource["Fn::Sub"]):
            return f"ses:{ses[1]}"
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/.+)", resource["Fn::Sub"])
        assert match, resource
        return match[1] + match[2]
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        assert resource["Fn::GetAtt"][1] == "Arn", resource
    label = ref(resource)
    assert label, f"unexpected resource {resource!r}"
    return label


def normalized(document: Doc) -> list[Doc]:
    """Statements with a set of actions and their resources' labels."""
    return [
        s
        | {
            "Action": set(as_list(s["Action"])),
            "Resource": list(map(resource_label, as_list(s["Resource"]))),
        }
        for s in as_list(document["Statement"])
    ]


def role_of(name: str) -> str:
    """The function's execution role: one of this template's AWS::IAM::Role, not SAM's."""
    props = TEMPLATE["Resources"][name]["Properties"]
    role = ref(props.get("Role"))
    assert role and TEMPLATE["Resources"][role]["Type"] == "AWS::IAM::Role", f"{name}: no role"
    # Beside a Role, SAM ignores Policies: a grant written there would be a grant that is not.
    assert "Policies" not in props, name
    return role


def role_statements(role: str) -> list[Doc]:
    """A role's statements: inline, its managed policies (this template's only) and the
    AWS::IAM::Policy resources attached to it."""
    props = TEMPLATE["Resources"][role]["Properties"]
    found = [s for p in props.get("Policies", []) for s in normalized(p["PolicyDocument"])]
    for arn in props.get("ManagedPolicyArns", []):
        managed = ref(arn)
        assert managed, f"{role}: AWS managed policy {arn}: grants unknown"
        assert TEMPLATE["Resources"][managed]["Type"] == "AWS::IAM::ManagedPolicy", role
        found += normalized(TEMPLATE["Resources"][managed]["Properties"]["PolicyDocument"])
    for policy in of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"].get("Roles", []):
            found += normalized(policy["Properties"]["PolicyDocument"])
    return found


def function_statements(name: str) -> list[Doc]:
    """The function's statements as {Effect, Action, Resource: labels, Condition}."""
    return role_statements(role_of(name))


def grants_of(name: str) -> dict[str, set[str]]:
    """Resource label -> the actions the function may take on it."""
    grants: dict[str, set[str]] = {}
    for statement in function_statements(name):
        assert statement["Effect"] == "Allow", name
        for label in statement["Resource"]:
            grants.setdefault(label, set()).update(statement["Action"])
    return grants


def iam_statements() -> Iterator[tuple[str, Doc]]:
    """Every identity-policy statement of the template as written (tests/unit/infra/
    test_least_privilege.py judges SAM's expansion of it, with the roles SAM generates)."""
    for name, role in of_type("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            yield from ((name, s) for s in normalized(policy["PolicyDocument"]))
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, policy in of_type(kind).items():
            yield from ((name, s) for s in normalized(policy["Properties"]["PolicyDocument"]))


# Actions that have no resource-level permissions, so IAM requires "*": X-Ray's trace upload
# (Tracing: Active). Powertools metrics go through the logs (EMF): no cloudwatch:PutMetricData.
WILDCARD_RESOURCE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# SES v2 SendEmail (adapters/aws/ses.py) is authorized as ses:SendEmail.
SES_SEND = {"ses:SendEmail"}
SES_IDENTITIES = "ses:identity/*"
SES_CONFIGURATION_SET = "ses:configuration-set/${SesConfigurationSet} if HasSesConfigurationSet"
# The one condition a grant carries: SES sends only from the configured From address.
FROM_THE_DIGEST_SENDER = {"StringEquals": {"ses:FromAddress": {"Ref": "DigestSenderEmail"}}}


def test_no_iam_statement_grants_every_action_or_every_resource() -> None:
    found = list(iam_statements())
    assert found
    for owner, statement in found:
        actions = statement["Action"]
        assert "NotAction" not in statement and "NotResource" not in statement, owner
        assert not any("*" in a for a in actions), (owner, actions)
        for label in statement["Resource"]:
            if label == "*":
                assert actions <= WILDCARD_RESOURCE_ACTIONS, (owner, actions)
            elif label == SES_IDENTITIES:
                # Any identity, as SES authorizes the From address or its verified domain,
                # whichever it matched: but only from the digest's From address.
                assert actions <= SES_SEND, owner
                assert statement["Condition"] == FROM_THE_DIGEST_SENDER, owner
            else:  # the table's indexes by name, never Table/index/*
                assert "*" not in label, (owner, label)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_statements_are_unconditional_but_for_the_ses_from_address_and_the_key(
    name: str,
) -> None:
    """SES sends only from the digest's address; the stack's key decrypts only through Secrets
    Manager (a role that may read a secret may not decrypt the log groups' or the topic's data)."""
    for statement in function_statements(name):
        sends = bool(statement["Action"] & SES_SEND)
        decrypts = statement["Resource"] == list(SECRETS_KEY)
        expected = FROM_THE_DIGEST_SENDER if sends else SECRETS_KEY_CONDITION if decrypts else None
        assert statement.get("Condition") == expected, name
        if sends:
            assert statement["Action"] <= SES_SEND, name
        if decrypts:
            assert statement["Action"] == SECRETS_KEY["EncryptionKey"], name


def test_each_function_has_a_role_of_its_own() -> None:
    roles = [role_of(name) for name in FUNCTIONS]
    assert len(set(roles)) == len(roles) == len(of_type("AWS::IAM::Role"))


# What each function may do, by resource, is derived from its code below (code_needs): the
# store methods its use cases call and the DynamoDB operations each one makes, the queues and
# the bus its Wiring builds, the secrets it reads, the mail it sends. The API's idempotency
# records are in a table of their own (IdempotencyTable).
QUERY = {"dynamodb:Query"}
# Powertools' DynamoDBPersistenceLayer (functions/api/wiring.py) gets, puts, updates and deletes
# its idempotency records (get_item, put_item, update_item, delete_item), in their own table.
IDEMPOTENCY_RECORDS = {f"dynamodb:{a}Item" for a in ("Get", "Put", "Update", "Delete")}
SECRET = {"secretsmanager:GetSecretValue"}
# The secrets are encrypted with the stack's key: a reader decrypts them with it, through
# Secrets Manager only (SECRETS_KEY_CONDITION).
SECRETS_KEY = {"EncryptionKey": {"kms:Decrypt"}}
SECRETS_KEY_CONDITION = {
    "StringEquals": {
        "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"}
    }
}
# What every function needs to run, whatever its code: its trace segments uploaded (Tracing:
# Active) and its own log group written (Lambda creates the streams); an SQS consumer, what
# Lambda's event source mapping calls on its queue with the function's role.
TRACE_UPLOAD = set(WILDCARD_RESOURCE_ACTIONS)
LOG_WRITES = {"logs:CreateLogStream", "logs:PutLogEvents"}
CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


def running(name: str) -> dict[str, set[str]]:
    """Its traces, its own log group and, invoked asynchronously, its failed runs' queue."""
    needs = {"*": TRACE_UPLOAD, f"{name.removesuffix('Function')}LogGroup": LOG_WRITES}
    if dlq := functions()[name].get("DeadLetterQueue"):
        needs[resource_label(dlq["TargetArn"])] = {"sqs:SendMessage"}
    return needs


def test_only_the_api_reaches_the_idempotency_records_and_only_as_powertools_does() -> None:
    reaching = [
        (owner, statement)
        for owner, statement in iam_statements()
        if any(label.startswith("IdempotencyTable") for label in statement["Resource"])
    ]
    assert [owner for owner, _ in reaching] == [role_of("ApiFunction")]
    [(_, statement)] = reaching
    assert statement["Resource"] == ["IdempotencyTable"]
    assert statement["Action"] == IDEMPOTENCY_RECORDS


# Boto3 DynamoDB client operations -> the IAM action that authorizes them (get_item: GetItem).
# TransactWriteItems is authorized item by item, each by its own action (TRANSACTION_ITEMS);
# TransactGetItems by GetItem.
DYNAMODB_OPERATIONS = {
    op: {f"dynamodb:{camel(op)}"}
    for op in (
        *("get_item", "batch_get_item", "query", "scan", "put_item", "update_item"),
        *("delete_item", "batch_write_item"),
    )
} | {"transact_get_items": {"dynamodb:GetItem"}, "transact_write_items": set()}
TRANSACTION_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
STORES = LAYER / "adapters" / "dynamodb"

type Def = ast.FunctionDef
type Grants = dict[str, set[str]]


@functools.cache
def store_definitions() -> tuple[dict[str, dict[str, Def]], dict[str, Def]]:
    """The stores' classes (name -> method -> def) and the module-level functions of
    adapters/dynamodb/ (name -> def). Cached: read, never change."""
    classes: dict[str, dict[str, Def]] = {}
    module_level: dict[str, Def] = {}
    for path in sorted(STORES.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                methods = [n for n in node.body if isinstance(n, ast.FunctionDef)]
                classes[node.name] = {m.name: m for m in methods}
            elif isinstance(node, ast.FunctionDef):
                module_level[node.name] = node
    return classes, module_level


def called_name(call: ast.Call) -> str:
    return str(getattr(call.func, "attr", getattr(call.func, "id", "")))


def query_wrappers(module_level: dict[str, Def], methods: dict[str, Def]) -> set[str]:
    """ "query" and the helpers that hand their **request on to it (query_all, Store._query)."""
    found = {"query"}
    while True:
        more = {
            name
            for name, node in (module_level | methods).items()
            if node.args.kwarg is not None
            and any(
                isinstance(c, ast.Call)
                and called_name(c) in found
                and any(
                    k.arg is None and ast.unparse(k.value) == node.args.kwarg.arg
                    for k in c.keywords
                )
                for c in ast.walk(node)
            )
        }
        if more <= found:
            return found
        found |= more


@functools.cache
def index_names() -> dict[str, str]:
    """keys.py's index constants (OPEN_INDEX, ...) -> the index's name."""
    from payment_action_center.adapters.dynamodb import keys

    return {n: str(getattr(keys, n)) for n in dir(keys) if n.endswith("_INDEX")}


def store_reach(cls: str, method: str) -> list[Def]:
    """The method and what it calls in adapters/dynamodb/: its class's methods (`self._x(...)`)
    and the modules' functions, followed from call to call."""
    classes, module_level = store_definitions()
    methods = classes[cls]
    todo, seen = [methods[method]], {}
    while todo:
        node = todo.pop()
        if node.name not in seen:
            seen[node.name] = node
            calls = [c for c in ast.walk(node) if isinstance(c, ast.Call)]
            todo += [methods[called_name(c)] for c in calls if self_call(c, methods)]
            todo += [
                module_level[c.func.id]
                for c in calls
                if isinstance(c.func, ast.Name) and c.func.id in module_level
            ]
    return list(seen.values())


def self_call(call: ast.Call, methods: dict[str, Def]) -> bool:
    receiver = getattr(call.func, "value", None)
    return isinstance(receiver, ast.Name) and receiver.id == "self" and called_name(call) in methods


@functools.cache
def store_method_grants(cls: str, method: str) -> Grants:
    """What one store method does to the table, from its code and the code it calls in
    adapters/dynamodb/ (store_reach): each client operation's action; a transaction's, the
    action of each item type it builds (a {"Put": ...} literal: PutItem, ...); a Query on an
    index for each `keys.<X>_INDEX` it names, on the table for a Query that passes no IndexName
    (a helper's **request forwarding left to its caller). Cached: read, never change."""
    classes, module_level = store_definitions()
    wrappers = query_wrappers(module_level, classes[cls])
    indexes = index_names()
    nodes = [inner for node in store_reach(cls, method) for inner in ast.walk(node)]
    calls = [c for c in nodes if isinstance(c, ast.Call)]
    operations = {
        called_name(c)
        for c in calls
        if called_name(c) in set(DYNAMODB_OPERATIONS) - {"query"}  # table_queries below
        and ast.unparse(getattr(c.func, "value", c.func)).endswith("client")
    }
    table = {action for op in operations for action in DYNAMODB_OPERATIONS[op]}
    if "transact_write_items" in operations:
        item_types = {
            k.value
            for d in nodes
            if isinstance(d, ast.Dict)
            for k in d.keys
            if isinstance(k, ast.Constant) and k.value in TRANSACTION_ITEMS
        }
        table |= {TRANSACTION_ITEMS[t] for t in item_types}
    table_queries = [
        c
        for c in calls
        if called_name(c) in wrappers and not any(k.arg in (None, "IndexName") for k in c.keywords)
    ]
    table |= QUERY if table_queries else set()
    grants: Grants = {
        f"Table/index/{indexes[a.attr]}": set(QUERY)
        for a in nodes
        if isinstance(a, ast.Attribute) and a.attr in indexes and ast.unparse(a.value) == "keys"
    }
    return grants | ({"Table": table} if table else {})


def test_the_store_grants_read_each_transaction_item_and_each_query_target() -> None:
    """The derivation itself, on methods whose calls are known: a transaction grants what its
    items do, not every write; an index query grants the index, not the table."""
    assert store_method_grants("DynamoEntryStore", "record_failure") == {
        "Table": {"dynamodb:PutItem", "dynamodb:UpdateItem"}
    }
    assert store_method_grants("DynamoBillingStore", "refuse_stale") == {
        "Table": {"dynamodb:PutItem", "dynamodb:ConditionCheckItem"}
    }
    assert store_method_grants("DynamoBillingStore", "organizations_expiring") == {
        "Table/index/CardsByExpiry": QUERY
    }
    assert store_method_grants("DynamoEntryStore", "get_with_audit") == {"Table": QUERY}
    assert store_method_grants("DynamoEntryStore", "published") == {
        "Table": {"dynamodb:DeleteItem"}
    }
    assert store_method_grants("DynamoBillingStore", "expiring") == {
        "Table": {"dynamodb:BatchGetItem"},
        "Table/index/CardsByExpiry": QUERY,
    }


def test_every_dynamodb_call_of_the_stores_is_mapped_to_its_action() -> None:
    """An operation missing from DYNAMODB_OPERATIONS would be a call granted nothing."""
    for path in STORES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            receiver = getattr(getattr(node, "func", None), "value", None)
            if isinstance(node, ast.Call) and "client" in ast.unparse(receiver or ast.Pass()):
                assert called_name(node) in DYNAMODB_OPERATIONS, (path.name, called_name(node))


def test_every_index_is_queried_by_some_store_method() -> None:
    indexes = [
        i["IndexName"]
        for i in TEMPLATE["Resources"]["Table"]["Properties"]["GlobalSecondaryIndexes"]
    ]
    classes, _ = store_definitions()
    queried = {
        label
        for cls, methods in classes.items()
        for method in methods
        for label in store_method_grants(cls, method)
    }
    assert {f"Table/index/{i}" for i in indexes} <= queried


# Client-backed properties of each function's Wiring (functions/<name>/app.py) ->
# the setting naming their resource and what adapters/aws/messaging.py calls on it
# (SendMessageBatch is authorized as sqs:SendMessage).
ADAPTER_GRANTS = {
    "publisher": ("EVENT_BUS_NAME", {"events:PutEvents"}),
    "retry_queue": ("RETRY_QUEUE_URL", {"sqs:SendMessage"}),
    "digest_queue": ("DIGEST_QUEUE_URL", {"sqs:SendMessage"}),
    "card_notice_queue": ("CARD_NOTICE_QUEUE_URL", {"sqs:SendMessage"}),
}
# SesMailer sends with SES v2 SendEmail (adapters/aws/ses.py), authorized as ses:SendEmail on
# the From identity and on the configuration set when one is given.
MAILER_GRANTS = {SES_IDENTITIES: {"ses:SendEmail"}, SES_CONFIGURATION_SET: {"ses:SendEmail"}}


def test_the_mailer_sends_with_ses_v2_send_email_only() -> None:
    """What MAILER_GRANTS grants: the SES client is sesv2, its one call send_email."""
    calls = {
        called_name(node)
        for path in (LAYER / "adapters").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
    }
    assert "send_raw_email" not in calls
    code = "".join(p.read_text("utf-8") for p in (LAYER / "adapters").rglob("*.py"))
    code += "".join(p.read_text("utf-8") for p in (ROOT / "functions").glob("*/*.py"))
    assert '"sesv2"' in code and 'client("ses")' not in code


def names_in(paths: Iterable[Path]) -> set[str]:
    """Every name and attribute the modules use; "adapters*" if they hand the whole Wiring
    object to other code."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            found.add(getattr(node, "attr", getattr(node, "id", "")))
            if isinstance(node, ast.Call) and {"adapters"} & {
                getattr(a, "id", 0) for a in node.args
            }:
                found.add("adapters*")
    return found


PACKAGE = "payment_action_center"


type Callee = tuple[Path, str | None]  # a module and one of its functions (None: all of it)
type StoreCall = tuple[str, str]  # (a port of ports.py or a Wiring property, a method)


def app_imports(tree: ast.Module) -> tuple[dict[str, Path], dict[str, Callee]]:
    """The layer's modules a module imports (name -> file), the use cases (app/) and the
    adapters that call them (http/, ...), not the stores themselves (store_method_grants reads
    those), and the functions it imports from them (name -> (file, function))."""
    modules: dict[str, Path] = {}
    functions_: dict[str, Callee] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not str(node.module).startswith(f"{PACKAGE}."):
            continue
        base = LAYER.joinpath(*str(node.module).split(".")[1:])
        if not base.is_relative_to(LAYER / "app") and not base.is_relative_to(LAYER / "adapters"):
            continue
        if base.is_relative_to(STORES):
            continue
        for alias in node.names:
            if (base / f"{alias.name}.py").is_file():
                modules[alias.asname or alias.name] = base / f"{alias.name}.py"
            elif base.with_suffix(".py").is_file():
                functions_[alias.asname or alias.name] = (base.with_suffix(".py"), alias.name)
    return modules, functions_


def store_calls(body: ast.AST) -> set[StoreCall]:
    """The methods called on parameters typed by a port (`store: EntryStore`, `store.get(...)`)
    and on the Wiring's properties (`adapters.entries.get_with_audit(...)`)."""
    found: set[StoreCall] = set()
    for node in ast.walk(body):
        if isinstance(node, ast.FunctionDef):
            arguments = [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]
            typed = {
                a.arg: ast.unparse(a.annotation) for a in arguments if a.annotation is not None
            }
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                    receiver = ast.unparse(call.func.value)
                    if receiver in typed:
                        found.add((typed[receiver], call.func.attr))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Attribute) and ast.unparse(receiver.value) == "adapters":
                found.add((receiver.attr, node.func.attr))
    return found


def callees(path: Path, function: str | None) -> tuple[set[StoreCall], list[Callee]]:
    """The store methods a module (or one function of it) calls, and the layer's functions it
    calls (app_imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules, imported = app_imports(tree)
    local = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    body = tree if function is None else local.get(function)
    if body is None:
        return set(), []
    calls = []
    for node in ast.walk(body):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in modules:
                calls.append((modules[node.value.id], node.attr))
        elif isinstance(node, ast.Name) and node.id in imported:
            calls.append(imported[node.id])
        elif isinstance(node, ast.Name) and function is not None and node.id in local:
            calls.append((path, node.id))
    return store_calls(body), calls


def reached(paths: Iterable[Path]) -> set[StoreCall]:
    """Every store method the modules call, with those the layer's functions they call call
    (`digest.due(...)` with `from payment_action_center.app import digest`, a function imported
    by name, `payment_webhook.handle(...)` in adapters/http/), followed from function to
    function."""
    stores: set[StoreCall] = set()
    seen: set[Callee] = set()
    todo: list[Callee] = [(path, None) for path in paths]
    while todo:
        callee = todo.pop()
        if callee not in seen:
            seen.add(callee)
            called, calls = callees(*callee)
            stores |= called
            todo += calls
    return stores


def wiring_stores(paths: Iterable[Path]) -> dict[str, str]:
    """The Wiring's store properties: `entries = built(lambda: DynamoEntryStore(...))` ->
    {"entries": "DynamoEntryStore"}."""
    classes, _ = store_definitions()
    found = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                built_ = {called_name(c) for c in ast.walk(node.value) if isinstance(c, ast.Call)}
                for cls in built_ & set(classes):
                    found |= {str(getattr(t, "id", "")): cls for t in node.targets}
    return found


@functools.cache
def port_methods() -> dict[str, set[str]]:
    """Each port of ports.py that a store implements (it defines all its methods) -> those
    methods: EntryStore, BillingStore, SendLedger, ..."""
    classes, _ = store_definitions()
    tree = ast.parse((LAYER / "ports.py").read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            if methods and any(methods <= set(c) for c in classes.values()):
                found[node.name] = methods
    return found


def stores_called(code: list[Path], receiver: str) -> list[str]:
    """The stores a call reaches: a Wiring property's store; for a port, each store of the
    function's Wiring that implements it."""
    classes, _ = store_definitions()
    built_ = wiring_stores(code)
    if receiver in built_:
        return [built_[receiver]]
    port = port_methods().get(receiver)
    return [s for s in built_.values() if port is not None and port <= set(classes[s])]


def table_needs(code: list[Path], called: set[StoreCall]) -> Grants:
    """What the store methods the function calls do to the table and its indexes."""
    classes, _ = store_definitions()
    needs: Grants = {}
    for receiver, method in called:
        for store in stores_called(code, receiver):
            if method in classes[store]:
                for label, actions in store_method_grants(store, method).items():
                    needs.setdefault(label, set()).update(actions)
    return needs


# The processor port's methods each function's use case calls (app/retry_worker.py charges,
# refunds and looks up; app/watchdog.py only looks up); checked against the code below.
PROCESSOR_CALLS = {
    "RetryWorkerFunction": ("charge", "refund", "status"),
    "RetryWatchdogFunction": ("status",),
}
SANDBOX = LAYER / "adapters" / "processors" / "sandbox.py"


@functools.cache
def sandbox_actions(methods: tuple[str, ...]) -> frozenset[str]:
    """What the sandbox processor (the dev stacks' processor, whose ledger is in the table) does
    to the table for these port methods, following its own `self._x(...)` calls."""
    (cls,) = [
        node
        for node in ast.parse(SANDBOX.read_text(encoding="utf-8")).body
        if isinstance(node, ast.ClassDef) and node.name == "SandboxProcessor"
    ]
    defs = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    todo, seen = list(methods), set()
    actions: set[str] = set()
    while todo:
        method = todo.pop()
        if method in seen:
            continue
        seen.add(method)
        for call in (c for c in ast.walk(defs[method]) if isinstance(c, ast.Call)):
            if self_call(call, defs):
                todo.append(called_name(call))
            elif ast.unparse(getattr(call.func, "value", call.func)).endswith("_client"):
                actions |= DYNAMODB_OPERATIONS[called_name(call)]
    return frozenset(actions)


def test_the_processor_calls_are_those_of_the_use_cases() -> None:
    app = LAYER / "app"
    watchdog = (app / "watchdog.py").read_text(encoding="utf-8")
    worker = (app / "retry_worker.py").read_text(encoding="utf-8")
    assert "processor.status(" in watchdog
    assert not re.search(r"processor\.(charge|refund)\(|send\(processor", watchdog)
    assert {"processor.status(", "processor.refund(", "processor.charge("} <= {
        m for m in ("processor.status(", "processor.refund(", "processor.charge(") if m in worker
    }
    assert sandbox_actions(("status",)) == {"dynamodb:GetItem"}


def test_the_stripe_processor_reads_its_key_from_the_secret_its_settings_name() -> None:
    """What code_needs adds for a function that builds a processor, beside the sandbox's ledger:
    the key's secret (Powertools get_secret). The account comes in the request (the worker reads
    the organization through its BillingStore, which the derivation follows)."""
    choice = (LAYER / "adapters" / "processors" / "choice.py").read_text(encoding="utf-8")
    assert "get_secret(settings.stripe_key_secret_arn" in choice
    assert "billing" not in choice


def code_needs(name: str) -> Grants:
    """What functions/<name>/*.py needs (resource label -> actions): what its store calls do to
    the table and its indexes, the idempotency records' table if it keeps them, its Wiring's
    queues and bus, its secrets, the mailer, its queue if it consumes one, and what running
    takes (running())."""
    variables = functions()[name]["Variables"]
    code = sorted((ROOT / functions()[name]["CodeUri"]).glob("*.py"))
    used = names_in(code)
    if "adapters*" in used:  # whatever its settings let it build
        used |= {p for p, (setting, _) in ADAPTER_GRANTS.items() if setting in variables}
        used |= {"mailer"} if "DIGEST_SENDER_EMAIL" in variables else set()
    needs: Grants = {k: set(v) for k, v in MAILER_GRANTS.items()} if "mailer" in used else {}
    if "DynamoDBPersistenceLayer" in used:  # in the table its settings name
        needs[resource_label(variables["IDEMPOTENCY_TABLE_NAME"])] = set(IDEMPOTENCY_RECORDS)
    for prop in used & set(ADAPTER_GRANTS):
        setting, actions = ADAPTER_GRANTS[prop]
        needs.setdefault(resource_label(variables[setting]), set()).update(actions)
    if "get_secret" in used:  # Powertools parameters: the secrets its settings name
        secrets = [v for k, v in variables.items() if k.endswith("_SECRET_ARN")]
        needs |= {resource_label(v): set(SECRET) for v in secrets}
        needs |= {k: set(v) for k, v in SECRETS_KEY.items()}
    for label, actions in table_needs(code, reached(code)).items():
        needs.setdefault(label, set()).update(actions)
    if "processor_for" in used:  # the sandbox keeps its ledger in the table (dev stacks)
        needs.setdefault("Table", set()).update(sandbox_actions(PROCESSOR_CALLS[name]))
        # The Stripe processor: its key's secret.
        needs[resource_label(variables["STRIPE_API_KEY_SECRET_ARN"])] = set(SECRET)
        needs |= {k: set(v) for k, v in SECRETS_KEY.items()}
    for consumer, queue in CONSUMED:
        if consumer == name:
            needs.setdefault(queue, set()).update(CONSUME)
    return needs | running(name)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_is_granted_exactly_what_its_code_calls(name: str) -> None:
    """Both ways: a call without its grant fails in production, a grant without its call is a
    permission an attacker with the function's role gets for free."""
    grants, needs = grants_of(name), code_needs(name)
    missing = {k: v - grants.get(k, set()) for k, v in needs.items() if v - grants.get(k, set())}
    unused = {k: v - needs.get(k, set()) for k, v in grants.items() if v - needs.get(k, set())}
    assert (missing, unused) == ({}, {}), name


def test_each_store_call_of_the_code_reaches_a_store_method() -> None:
    """A call on a store port's parameter or a Wiring store that no store of the function defines
    would be a call the derivation misses (a renamed method, a store left out of the Wiring)."""
    classes, _ = store_definitions()
    assert {"EntryStore", "BillingStore", "SendLedger", "FailureLog"} <= set(port_methods())
    for name in FUNCTIONS:
        code = sorted((ROOT / functions()[name]["CodeUri"]).glob("*.py"))
        for receiver, method in reached(code):
            if receiver in wiring_stores(code) or receiver in port_methods():
                reaching = [s for s in stores_called(code, receiver) if method in classes[s]]
                assert reaching, (name, receiver, method)


def test_the_event_bus_is_named_per_stage() -> None:
    (bus,) = of_type("AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == {"Fn::Sub": "payment-action-center-${Stage}"}


# ----------------------------------------------------------------------------- secrets


# 44 alphanumeric characters decode as base64 (a Standard Webhooks key: whsec_<value>); the
# unsubscribe links' HMAC key is 64.
SECRET_LENGTHS = {"PaymentsWebhookSecret": 44, "BillingWebhookSecret": 44, "UnsubscribeSecret": 64}
# Stripe's own secrets, which the operator stores (docs/deploy.md): a placeholder until then, which
# the functions refuse with a message (stripe_processor.py's key check, the webhook's verify).
FILLED_BY_OPERATOR = {"StripeApiKeySecret", "StripeWebhookSecret"}


@pytest.mark.parametrize("name", sorted(of_type("AWS::SecretsManager::Secret")))
def test_secret_is_generated_or_filled_and_outlives_the_stack(name: str) -> None:
    """A lost webhook key means setting up every sender again; a new unsubscribe key voids the
    links of every digest already sent; a lost Stripe secret means a trip to Stripe's dashboard."""
    secret = TEMPLATE["Resources"][name]
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    assert set(SECRET_LENGTHS) | FILLED_BY_OPERATOR == set(of_type("AWS::SecretsManager::Secret"))
    if name in FILLED_BY_OPERATOR:
        assert secret["Properties"]["SecretString"] == "unset"
        assert "GenerateSecretString" not in secret["Properties"]
        return
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated == {"PasswordLength": SECRET_LENGTHS[name], "ExcludePunctuation": True}


# ----------------------------------------------------------------------------- queues

# Each consumer: its queue, BatchSize and MaximumBatchingWindowInSeconds (absent: None). A digest
# send takes longer than a retry: smaller batches, so one slow organization holds up fewer others.
CONSUMERS = {
    "RetryWorkerFunction": ("RetryQueue", 10, 1),
    "DigestSenderFunction": ("DigestQueue", 5, None),
    "CardNoticeSenderFunction": ("CardNoticeQueue", 5, None),
}


def test_each_queue_has_its_one_consumer() -> None:
    assert sorted((name, queue) for name, (queue, _, _) in CONSUMERS.items()) == CONSUMED


@pytest.mark.parametrize(("name", "queue_name"), CONSUMED)
def test_consumed_queue_dead_letters_after_five_receives_and_outlasts_its_consumer(
    name: str, queue_name: str
) -> None:
    (event,) = [e for n, e in events("SQS") if n == name]
    # Without ReportBatchItemFailures one failed message would send its whole batch back.
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["ScalingConfig"]["MaximumConcurrency"] == 5
    batching = (event["BatchSize"], event.get("MaximumBatchingWindowInSeconds"))
    assert batching == CONSUMERS[name][1:]
    _, queue = queue_of(event["Queue"])
    # AWS's advice: a visibility timeout of at least 6 x the function's timeout.
    assert queue["VisibilityTimeout"] >= 6 * functions()[name]["Timeout"]
    assert "RedrivePolicy" in queue, f"{queue_name} has no dead-letter queue"
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    dead_letters, props = queue_of(queue["RedrivePolicy"]["deadLetterTargetArn"])
    # A message keeps its age in the dead-letter queue: that one must keep longer.
    assert queue["MessageRetentionPeriod"] < props["MessageRetentionPeriod"]
    assert dead_letters in DEAD_LETTER_QUEUES


@pytest.mark.parametrize("name", QUEUES)
def test_queue_is_encrypted_unnamed_and_consumed_or_dead_letter(name: str) -> None:
    props = TEMPLATE["Resources"][name]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert "QueueName" not in props  # dev and prod share an account
    assert name in {q for _, q in CONSUMED} | set(DEAD_LETTER_QUEUES), f"{name}: nobody reads it"


@pytest.mark.parametrize("name", DEAD_LETTER_QUEUES)
def test_dead_letter_queue_keeps_14_days_and_alarms_as_soon_as_it_holds_a_message(
    name: str,
) -> None:
    assert TEMPLATE["Resources"][name]["Properties"]["MessageRetentionPeriod"] == 1209600
    watching = [
        a
        for a in alarms().values()
        if a["Namespace"] == "AWS/SQS"
        and a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [name, "QueueName"]}}]
    ]
    assert watching, f"{name} has no alarm"
    for alarm in watching:
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["Period"] <= 300
        assert alarm["TreatMissingData"] == "notBreaching"


# ----------------------------------------------------------------------------- schedules

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
# When each scheduled function runs. The watchdog: every 15 minutes. The digest: every hour at
# minute 0, each organization's 07:00 local hour whatever its time zone. The card scan: daily,
# so a card that starts qualifying later in the month is notified the next day.
SCHEDULES = {
    "RetryWatchdogFunction": "rate(15 minutes)",
    "DailyDigestFunction": "cron(0 * * * ? *)",
    "CardExpiryScanFunction": "cron(0 13 * * ? *)",
}


def test_every_schedule_is_an_eventbridge_scheduler_one() -> None:
    assert not events("Schedule"), "use ScheduleV2 (EventBridge Scheduler)"
    assert sorted(SCHEDULES) == SCHEDULED


@pytest.mark.parametrize("name", SCHEDULED)
def test_schedule_runs_when_asked_retries_then_dead_letters(name: str) -> None:
    (schedule,) = [s for n, s in events("ScheduleV2") if n == name]
    expression = schedule["ScheduleExpression"]
    if (parameter := ref(expression)) is not None:
        expression = TEMPLATE["Parameters"][parameter]["Default"]
    assert expression == SCHEDULES[name]
    assert schedule["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}
    # An explicit queue: encrypted, 14 days and alarmed on (one SAM would make has none of it).
    assert queue_of(schedule["DeadLetterConfig"]["Arn"])[0] in DEAD_LETTER_QUEUES
    # SAM would name the schedule after its logical id: dev and prod would collide.
    assert schedule["OmitName"] is True
    # The function judges deadlines by the time the run was scheduled for, not when it ran.
    assert json.loads(schedule["Input"]) == {"scheduled_time": SCHEDULED_TIME}


# ----------------------------------------------------------------------------- parameters


def test_the_sandbox_processor_never_reaches_prod() -> None:
    """The sandbox charges nobody: the default for dev stacks, refused in the prod stage (again
    at cold start: layers/core/payment_action_center/adapters/processors/choice.py)."""
    parameter = TEMPLATE["Parameters"]["Processor"]
    assert (parameter["AllowedValues"], parameter["Default"]) == (["sandbox", "stripe"], "sandbox")
    assert TEMPLATE["Parameters"]["Stage"]["AllowedValues"] == ["dev", "prod"]
    assert TEMPLATE.get("Rules"), "no Rules: nothing refuses the sandbox in prod"
    refusals = [
        assertion
        for rule in TEMPLATE["Rules"].values()
        if rule.get("RuleCondition") == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
        for assertion in rule["Assertions"]
        if assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "Processor"}, "sandbox"]}]}
    ]
    assert refusals and all(a["AssertDescription"].strip() for a in refusals)


def test_the_digest_sender_parameter_is_a_bare_address_to_override() -> None:
    parameter = TEMPLATE["Parameters"]["DigestSenderEmail"]
    # A placeholder SES can never verify (.invalid): a stage that forgets it fails loudly.
    assert parameter["Default"].endswith(".invalid")
    assert "OVERRIDE" in parameter["Description"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch(parameter["Default"])
    assert pattern.fullmatch("notifications@centre.example.com")
    for refused in ("Centre <a@b.example>", "a@b", "a b@c.example", "@c.example", ""):
        assert not pattern.fullmatch(refused), refused


@pytest.mark.parametrize(
    ("parameter", "condition"),
    [("SesConfigurationSet", "HasSesConfigurationSet"), ("AlarmEmail", "HasAlarmEmail")],
)
def test_optional_parameters_default_to_empty_and_gate_their_use(
    parameter: str, condition: str
) -> None:
    assert TEMPLATE["Parameters"][parameter]["Default"] == ""
    assert TEMPLATE["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]
    }
    # The alarm e-mail is subscribed, the configuration set granted, only when given.
    gated = [
        r for r in TEMPLATE["Resources"].values() if parameter in json.dumps(r.get("Properties"))
    ]
    for resource in gated:
        if resource["Type"] in ("AWS::SNS::Subscription", "AWS::IAM::ManagedPolicy"):
            assert condition in json.dumps(resource), parameter


def documented_outputs() -> set[str]:
    section = (ROOT / "docs/deploy.md").read_text("utf-8").split("## 5. Outputs")[1]
    rows = re.findall(r"^\| (`\w+`(?:, `\w+`)*) \|", section.split("\n## ")[0], re.MULTILINE)
    return {name for row in rows for name in re.findall(r"\w+", row)}


def test_the_outputs_are_the_documented_ones_and_name_what_they_hold() -> None:
    """docs/deploy.md tells the operator what to do with each output."""
    outputs = TEMPLATE["Outputs"]
    assert set(outputs) == documented_outputs()
    for name, output in outputs.items():
        if name == "ApiUrl":  # <ApiUrl>webhooks/payments: with its trailing slash
            assert output["Value"]["Fn::Sub"].startswith("https://${HttpApi}.")
            assert output["Value"]["Fn::Sub"].endswith("/")
            continue
        if name == "ConsoleUrl":  # the operator's domain if given, else the distribution's
            assert output["Value"] == {
                "Fn::If": [
                    "HasConsoleDomain",
                    {"Fn::Sub": "https://${ConsoleDomainName}/"},
                    {"Fn::Sub": "https://${ConsoleDistribution.DomainName}/"},
                ]
            }
            continue
        if name == "ConsoleDistributionDomainName":  # the target of that domain's DNS record
            assert output["Value"] == {"Fn::GetAtt": ["ConsoleDistribution", "DomainName"]}
            continue
        if name == "ConsoleDistributionId":
            assert output["Value"] == {"Ref": "ConsoleDistribution"}
            continue
        stem = re.sub(r"(Arn|Url|Name)$", "", name)
        if TEMPLATE["Resources"][stem]["Type"] == "AWS::KMS::Key":  # its Ref is the key's id
            assert output["Value"] == {"Fn::GetAtt": [stem, "Arn"]}, name
            continue
        assert output["Value"] == {"Ref": stem}, name
        assert TEMPLATE["Resources"][stem]["Type"] != "AWS::CloudWatch::Alarm", name


# ----------------------------------------------------------------------------- the console


def console_distribution() -> Doc:
    [(_, distribution)] = of_type("AWS::CloudFront::Distribution").items()
    return dict(distribution["Properties"]["DistributionConfig"])


def console_csp() -> dict[str, list[str]]:
    """The console's Content-Security-Policy, directive -> sources (the Sub's text)."""
    [(_, policy)] = of_type("AWS::CloudFront::ResponseHeadersPolicy").items()
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    text, _ = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    directives = [d.split() for d in text.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def test_the_console_bucket_is_private_encrypted_and_versioned() -> None:
    [(_, bucket)] = of_type("AWS::S3::Bucket").items()
    props = bucket["Properties"]

    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "WebsiteConfiguration" not in props and "AccessControl" not in props


def test_only_the_console_distribution_may_read_the_bucket() -> None:
    [(_, policy)] = of_type("AWS::S3::BucketPolicy").items()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]

    assert ref(policy["Properties"]["Bucket"]) == "ConsoleBucket"
    assert len(allows) == 1
    [allow] = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source.endswith(":distribution/${ConsoleDistribution}")
    [origin] = console_distribution()["Origins"]
    oac = TEMPLATE["Resources"][ref(origin["OriginAccessControlId"]) or ""]
    config = oac["Properties"]["OriginAccessControlConfig"]
    assert (config["SigningBehavior"], config["SigningProtocol"]) == ("always", "sigv4")
    assert ref(origin["DomainName"]) == "ConsoleBucket"


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def test_on_the_operators_domain_the_console_takes_tls_1_2_at_least() -> None:
    """On *.cloudfront.net CloudFront fixes the policy of its default certificate (TLSv1, the
    CKV_AWS_174 skip); on ConsoleDomainName, with its ACM certificate, the template sets it."""
    config = console_distribution()
    assert config["Aliases"] == {
        "Fn::If": ["HasConsoleDomain", [{"Ref": "ConsoleDomainName"}], {"Ref": "AWS::NoValue"}]
    }
    condition, custom, default = config["ViewerCertificate"]["Fn::If"]
    assert condition == "HasConsoleDomain"
    assert custom == {
        "AcmCertificateArn": {"Ref": "ConsoleCertificateArn"},
        "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    assert default == {"CloudFrontDefaultCertificate": True}
    assert TEMPLATE["Conditions"]["HasConsoleDomain"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ConsoleDomainName"}, ""]}]
    }


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("ConsoleDomainName", "", True),
        ("ConsoleDomainName", "billing.example.com", True),
        ("ConsoleDomainName", "pay-center.club.example.co.uk", True),
        ("ConsoleDomainName", "Billing.Example.com", False),
        ("ConsoleDomainName", "https://billing.example.com", False),
        ("ConsoleDomainName", "billing.example.com/", False),
        ("ConsoleDomainName", "*.example.com", False),
        ("ConsoleDomainName", "localhost", False),
        ("ConsoleCertificateArn", "", True),
        ("ConsoleCertificateArn", CERTIFICATE, True),
        ("ConsoleCertificateArn", CERTIFICATE.replace("us-east-1", "ca-central-1"), False),
        ("ConsoleCertificateArn", "arn:aws:iam::123456789012:server-certificate/console", False),
    ],
)
def test_the_console_domain_parameters_take_a_host_name_and_a_us_east_1_certificate(
    name: str, value: str, allowed: bool
) -> None:
    parameter = TEMPLATE["Parameters"][name]
    assert parameter["Default"] == ""
    assert (re.fullmatch(parameter["AllowedPattern"], value) is not None) is allowed


def test_the_console_is_served_over_https_only() -> None:
    config = console_distribution()
    behaviors = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]

    assert {b["ViewerProtocolPolicy"] for b in behaviors} == {"redirect-to-https"}
    assert config["DefaultRootObject"] == "index.html"
    assert config["HttpVersion"] == "http2and3"
    # CachingOptimized, a managed cache policy
    assert config["DefaultCacheBehavior"]["CachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"


def test_the_console_sends_a_strict_csp_and_the_security_headers() -> None:
    csp = console_csp()
    [(_, policy)] = of_type("AWS::CloudFront::ResponseHeadersPolicy").items()
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    sources = [source for values in csp.values() for source in values]

    assert ref(console_distribution()["DefaultCacheBehavior"]["ResponseHeadersPolicyId"])
    assert "'unsafe-eval'" not in sources
    assert "*" not in sources and not any(s.startswith(("http:", "*")) for s in sources)
    assert csp["default-src"] == csp["script-src"] == ["'self'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == csp["form-action"] == ["'self'"]
    # The API's hosts, API Gateway's of the stack's region (template.yaml says why not the
    # HttpApi's own host), and the identity provider's for the sign-in: no other.
    assert csp["connect-src"] == [
        "'self'",
        "https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}",
        "${IssuerOrigin}${TokenOrigin}",
    ]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["StrictTransportSecurity"]["IncludeSubdomains"] is True
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert headers["FrameOptions"]["FrameOption"] == "SAMEORIGIN"


WEBHOOK_ROUTES = {"POST /webhooks/payments", "POST /webhooks/billing", "POST /webhooks/stripe"}
PEOPLE = {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}


def test_the_webhook_routes_take_the_peak_and_the_people_routes_the_default() -> None:
    """500 deliveries a second at 10,000 organizations, with headroom; the admin routes keep the
    default, sized for people. Each key names a route the template has, or API Gateway refuses
    the stage."""
    api = TEMPLATE["Resources"]["HttpApi"]["Properties"]
    settings = api["RouteSettings"]
    assert set(settings) <= set(http_routes())
    for route in WEBHOOK_ROUTES:
        limits = settings[route]
        assert limits["ThrottlingRateLimit"] >= 500 * 1.5
        assert limits["ThrottlingBurstLimit"] >= limits["ThrottlingRateLimit"]
    assert api["DefaultRouteSettings"] == PEOPLE
    # Every route an admin calls with a JWT keeps the default: none has a setting of its own.
    assert set(settings) - WEBHOOK_ROUTES == PUBLIC_ROUTES - WEBHOOK_ROUTES


@pytest.mark.parametrize("route", sorted(PUBLIC_ROUTES - WEBHOOK_ROUTES))
def test_a_public_route_without_a_jwt_gets_less_than_the_people_default(route: str) -> None:
    """Anyone may call it: a flood throttles that route alone, and below what admins get."""
    limits = TEMPLATE["Resources"]["HttpApi"]["Properties"]["RouteSettings"][route]
    assert 0 < limits["ThrottlingRateLimit"] < PEOPLE["ThrottlingRateLimit"]
    assert limits["ThrottlingRateLimit"] <= limits["ThrottlingBurstLimit"]
    assert limits["ThrottlingBurstLimit"] < PEOPLE["ThrottlingBurstLimit"]


def test_the_table_is_warm_for_the_webhook_routes_sustained_limits() -> None:
    """Write units per delivery (docs/scale.md §2, §6): a new failure 14 (its recovery counters
    included), a card change 6. A new on-demand table serves 4,000 a second at once, not both
    routes at their limits."""
    settings = TEMPLATE["Resources"]["HttpApi"]["Properties"]["RouteSettings"]
    units = {"POST /webhooks/payments": 14, "POST /webhooks/billing": 6}
    needed = sum(settings[route]["ThrottlingRateLimit"] * n for route, n in units.items())
    warm = TEMPLATE["Resources"]["Table"]["Properties"]["WarmThroughput"]
    assert warm["WriteUnitsPerSecond"] >= needed > 4000


def test_the_table_alarms_on_write_throttling() -> None:
    alarm = TEMPLATE["Resources"]["TableWriteThrottleAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/DynamoDB", "WriteThrottleEvents")
    assert alarm["Dimensions"] == [{"Name": "TableName", "Value": {"Ref": "Table"}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_cors_allows_only_the_console_origin() -> None:
    cors = TEMPLATE["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]

    assert cors["AllowOrigins"] == [
        {"Fn::Sub": "https://${ConsoleDistribution.DomainName}"},
        {
            "Fn::If": [
                "HasConsoleDomain",
                {"Fn::Sub": "https://${ConsoleDomainName}"},
                {"Ref": "AWS::NoValue"},
            ]
        },
        {"Fn::If": ["HasAdminOrigin", {"Ref": "AdminOrigin"}, {"Ref": "AWS::NoValue"}]},
    ]
    assert cors["AllowHeaders"] == ["authorization", "content-type", "idempotency-key"]
    assert cors["AllowMethods"] == ["GET", "POST", "PUT"]
    assert cors["MaxAge"] == 600
    assert set(cors) == {"AllowOrigins", "AllowHeaders", "AllowMethods", "MaxAge"}


ADMIN_ORIGIN = "https://admin.example.com"
NO_VALUE = {"Ref": "AWS::NoValue"}


def deployed_api(**parameters: str) -> tuple[Doc, Doc]:
    """The HttpApi's OpenAPI body and its $default stage as SAM's translator writes them."""
    values = {"Stage": "dev", "JwtIssuer": "https://issuer.example.com", "JwtAudience": "c"}
    expanded = translate(TEMPLATE, values | parameters)
    [api] = resources(expanded, "AWS::ApiGatewayV2::Api").values()
    [stage] = resources(expanded, "AWS::ApiGatewayV2::Stage").values()
    return api["Properties"]["Body"], stage["Properties"]


def test_the_throttles_reach_the_deployed_stage_on_routes_it_has() -> None:
    """API Gateway refuses a stage whose route settings name a route the API does not have."""
    _, stage = deployed_api()
    settings = TEMPLATE["Resources"]["HttpApi"]["Properties"]
    assert stage["DefaultRouteSettings"] == settings["DefaultRouteSettings"] == PEOPLE
    assert stage["RouteSettings"] == settings["RouteSettings"]
    assert set(stage["RouteSettings"]) <= {route.key for route in routes(TEMPLATE)}


@pytest.mark.parametrize("admin_origin", ["", ADMIN_ORIGIN])
@pytest.mark.parametrize("console_domain", ["", "billing.example.com"])
def test_the_deployed_cors_names_the_configured_origins_and_no_wildcard(
    admin_origin: str, console_domain: str
) -> None:
    body, _ = deployed_api(AdminOrigin=admin_origin, ConsoleDomainName=console_domain)
    cors = body["x-amazon-apigateway-cors"]
    console = {"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}
    own_domain = {
        "Fn::If": ["HasConsoleDomain", {"Fn::Sub": f"https://{console_domain}"}, NO_VALUE]
    }
    # SAM writes the parameters' values in; HasConsoleDomain and HasAdminOrigin drop them when
    # empty.
    assert cors["allowOrigins"] == [
        console,
        own_domain,
        {"Fn::If": ["HasAdminOrigin", admin_origin, NO_VALUE]},
    ]
    assert not any("*" in str(value) for value in cors.values())
    assert not cors.get("allowCredentials")  # the token is a header, never a cookie


def test_the_sign_in_may_reach_the_issuer_and_the_token_endpoint_only() -> None:
    [(_, policy)] = of_type("AWS::CloudFront::ResponseHeadersPolicy").items()
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    _, variables = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]

    issuer_host = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "JwtIssuer"}]}]}
    assert variables["IssuerOrigin"] == {"Fn::Join": ["", ["https://", issuer_host]]}
    assert variables["TokenOrigin"] == {
        "Fn::If": ["HasIdentityProviderOrigin", {"Fn::Sub": " ${IdentityProviderOrigin}"}, ""]
    }


@pytest.mark.parametrize("name", ["AdminOrigin", "IdentityProviderOrigin"])
@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        ("https://admin.example.com", True),
        ("https://admin.example.com:8443", True),
        ("http://admin.example.com", False),
        ("https://admin.example.com/", False),
        ("https://admin.example.com/path", False),
        ("*", False),
        ("https://*.example.com", False),
    ],
)
def test_an_origin_parameter_takes_an_https_origin_or_nothing(
    name: str, value: str, allowed: bool
) -> None:
    pattern = TEMPLATE["Parameters"][name]["AllowedPattern"]
    assert TEMPLATE["Parameters"][name]["Default"] == ""
    # CloudFormation matches AllowedPattern against the whole value.
    assert (re.fullmatch(pattern, value) is not None) is allowed


def test_only_the_admin_origin_may_load_the_console_files_cross_origin() -> None:
    [(_, policy)] = of_type("AWS::CloudFront::ResponseHeadersPolicy").items()
    condition, cors, otherwise = policy["Properties"]["ResponseHeadersPolicyConfig"]["CorsConfig"][
        "Fn::If"
    ]

    assert (condition, otherwise) == ("HasAdminOrigin", {"Ref": "AWS::NoValue"})
    assert cors["AccessControlAllowOrigins"] == {"Items": [{"Ref": "AdminOrigin"}]}
    assert cors["AccessControlAllowMethods"] == {"Items": ["GET", "HEAD"]}
    assert cors["AccessControlAllowCredentials"] is False


# ----------------------------------------------------------------------------- alarms


@pytest.mark.parametrize("name", ALARMS)
def test_alarm_notifies_a_topic_and_treats_missing_data_deliberately(name: str) -> None:
    alarm = alarms()[name]
    assert alarm["AlarmActions"], name
    for action in alarm["AlarmActions"]:
        assert TEMPLATE["Resources"][ref(action)]["Type"] == "AWS::SNS::Topic", name
    # Quiet periods emit no data points: they are not breaches (and not INSUFFICIENT_DATA).
    assert alarm["TreatMissingData"] == "notBreaching", name


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_alarms_on_errors_and_throttles(name: str) -> None:
    watched = {
        a["MetricName"]
        for a in alarms().values()
        if a["Namespace"] == "AWS/Lambda"
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
    }
    assert {"Errors", "Throttles"} <= watched, name


def test_the_http_api_alarms_on_5xx() -> None:
    (alarm,) = [a for a in alarms().values() if a["Namespace"] == "AWS/ApiGateway"]
    assert alarm["MetricName"] == "5xx"
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "ApiId": {"Ref": "HttpApi"},
        "Stage": "$default",
    }


def test_custom_metric_alarms_watch_a_metric_the_code_emits() -> None:
    """Powertools metrics: the namespace and the service dimension come from the Globals; the
    digest sender emits DigestRecipientFailed for each recipient SES refused."""
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    namespace = variables["POWERTOOLS_METRICS_NAMESPACE"]
    custom = [a for a in alarms().values() if not a["Namespace"].startswith("AWS/")]
    code = "".join(p.read_text("utf-8") for p in (ROOT / "functions").glob("*/*.py"))
    for alarm in custom:
        assert alarm["Namespace"] == namespace
        assert alarm["Dimensions"] == [
            {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
        ]
        assert f'"{alarm["MetricName"]}"' in code, alarm["MetricName"]
    (refused,) = [a for a in custom if a["MetricName"] == "DigestRecipientFailed"]
    # Within the hour, at the first refusal.
    when = ("Statistic", "Period", "EvaluationPeriods", "ComparisonOperator", "Threshold")
    assert [refused[k] for k in when] == ["Sum", 3600, 1, "GreaterThanThreshold", 0]


# ----------------------------------------------------------------------------- the stack's key

KEY = "EncryptionKey"
ACCOUNT_ROOT = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
LOG_GROUPS_OF_THIS_ACCOUNT = (
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
)


def key_statements() -> dict[str, Doc]:
    (name,) = of_type("AWS::KMS::Key")
    assert name == KEY
    return {
        s["Sid"]: s
        for s in as_list(TEMPLATE["Resources"][KEY]["Properties"]["KeyPolicy"]["Statement"])
    }


def test_the_stacks_key_rotates_and_outlives_the_secrets_it_encrypts() -> None:
    """The secrets are retained when the stack goes: their key must be too, or they are lost."""
    key = TEMPLATE["Resources"][KEY]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"


def test_the_key_policy_grants_the_account_and_two_services_from_this_account_only() -> None:
    """kms:* on "*" (this key) only for the account root: AWS's default key policy, without
    which nobody could manage the key (functions get kms:Decrypt from their roles). CloudWatch
    alarms publish to the encrypted topic; CloudWatch Logs encrypts this account's log groups."""
    statements = key_statements()
    assert set(statements) == {
        "AccountAdministers",
        "CloudWatchAlarmsPublish",
        "CloudWatchLogsEncrypt",
    }
    root = statements["AccountAdministers"]
    assert (root["Principal"], root["Action"]) == ({"AWS": {"Fn::Sub": ACCOUNT_ROOT}}, "kms:*")
    alarms = statements["CloudWatchAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    logs = statements["CloudWatchLogsEncrypt"]
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.${AWS::URLSuffix}"}}
    # As CloudWatch Logs documents them; the condition keeps them to this account's log groups.
    assert logs["Action"] == [
        "kms:Encrypt*",
        "kms:Decrypt*",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:Describe*",
    ]
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Sub": LOG_GROUPS_OF_THIS_ACCOUNT}}
    }


@pytest.mark.parametrize(
    ("kind", "attribute", "value"),
    [
        ("AWS::Logs::LogGroup", "KmsKeyId", {"Fn::GetAtt": [KEY, "Arn"]}),
        ("AWS::SecretsManager::Secret", "KmsKeyId", {"Ref": KEY}),
        # The AWS managed alias/aws/sns key cannot grant CloudWatch: alarms would never arrive.
        ("AWS::SNS::Topic", "KmsMasterKeyId", {"Ref": KEY}),
    ],
)
def test_every_log_group_secret_and_topic_is_encrypted_with_the_stacks_key(
    kind: str, attribute: str, value: Any
) -> None:
    found = of_type(kind)
    assert found, kind
    assert {name: r["Properties"].get(attribute) for name, r in found.items()} == dict.fromkeys(
        found, value
    )


# ----------------------------------------------------------------------------- concurrency, DLQs


def schedule_dead_letter_queues() -> dict[str, str]:
    """Function -> the dead-letter queue of its EventBridge Scheduler schedule."""
    return {name: ref(e["DeadLetterConfig"]["Arn"]) for name, e in events("ScheduleV2")}


def test_a_scheduled_function_runs_once_at_a_time_and_its_failed_runs_reach_the_schedules_dlq() -> (
    None
):
    """Scheduler invokes asynchronously: after Lambda's retries a failed run would be dropped
    without a DeadLetterQueue; the schedule's own queue (and its alarm) takes both failures."""
    scheduled = schedule_dead_letter_queues()
    assert set(scheduled) == {
        "RetryWatchdogFunction",
        "DailyDigestFunction",
        "CardExpiryScanFunction",
    }
    for name, queue in scheduled.items():
        props = functions()[name]
        assert props["DeadLetterQueue"] == {
            "Type": "SQS",
            "TargetArn": {"Fn::GetAtt": [queue, "Arn"]},
        }
        assert props["ReservedConcurrentExecutions"] == 1, name
        assert any(
            a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}
            for a in of_type("AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        ), queue


def test_a_queue_consumer_is_reserved_what_its_event_source_mapping_may_use() -> None:
    """Equal: less would throttle the mapping's own pollers (Lambda's documentation asks for a
    reserved concurrency at least the maximum concurrency); more would reserve idle instances."""
    consumers = events("SQS")
    assert len(consumers) == 3
    for name, event in consumers:
        reserved = functions()[name]["ReservedConcurrentExecutions"]
        assert reserved == event["ScalingConfig"]["MaximumConcurrency"], name
        assert "DeadLetterQueue" not in functions()[name], name


def test_the_functions_people_wait_on_are_neither_reserved_nor_given_a_dlq() -> None:
    """API Gateway invokes them synchronously (the caller sees the error) and throttles their
    routes itself (HttpApi RouteSettings)."""
    for name in {name for name, _ in events("HttpApi")}:
        assert "ReservedConcurrentExecutions" not in functions()[name], name
        assert "DeadLetterQueue" not in functions()[name], name


# ----------------------------------------------------------------------------- sample events

SAMPLES = sorted(EVENTS.glob("*.json"))
# Events other than HTTP: events/<the function's folder>_<suffix>.json
SAMPLE_SUFFIXES = {"SQS": "sqs", "ScheduleV2": "schedule"}
UTC_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
# What each consumer reads in a message body: its keys, each matching its pattern (or type).
QUEUE_BODIES = {
    "RetryWorkerFunction": dict(organization_id=".+", entry_id="txn_[a-z2-7]{26}", attempt=int),
    "DigestSenderFunction": dict(
        organization_id=".+", window_end=UTC_TIME, local_date=r"\d{4}-\d\d-\d\d"
    ),
    "CardNoticeSenderFunction": dict(organization_id=".+", now=UTC_TIME),
}


def sample(path: Path) -> Doc:
    event = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(event, dict), path.name
    return event


def sample_for(name: str, event_type: str) -> Path:
    folder = Path(functions()[name]["CodeUri"]).name
    return EVENTS / f"{folder}_{SAMPLE_SUFFIXES[event_type]}.json"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_http_event_is_consistent(path: Path) -> None:
    event = sample(path)
    if event.get("version") != "2.0":  # an HTTP API payload: its body is a string
        return
    assert event["requestContext"]["routeKey"] == event["routeKey"]
    assert event["requestContext"]["http"]["method"] == event["routeKey"].split()[0]
    is_json = event["headers"].get("content-type", "application/json") == "application/json"
    if event.get("body") is not None and not event.get("isBase64Encoded") and is_json:
        json.loads(event["body"])


def test_every_route_has_a_sample_event_and_every_http_event_a_route() -> None:
    http = {e["routeKey"]: e for e in map(sample, SAMPLES) if e.get("version") == "2.0"}
    assert set(http) == set(http_routes()) >= PUBLIC_ROUTES
    for key, event in http.items():
        claims = event["requestContext"].get("authorizer", {}).get("jwt", {}).get("claims")
        if key in PUBLIC_ROUTES:
            assert claims is None, key
        else:
            assert {"sub", "org_id"} <= set(claims or {}), key


def test_every_other_event_source_has_a_sample_event_and_every_sample_a_source() -> None:
    types = {
        e["Type"]
        for f in of_type("AWS::Serverless::Function").values()
        for e in f["Properties"].get("Events", {}).values()
    }
    assert types <= {"HttpApi", *SAMPLE_SUFFIXES}
    expected = {sample_for(name, kind) for kind in SAMPLE_SUFFIXES for name, _ in events(kind)}
    assert {p for p in SAMPLES if sample(p).get("version") != "2.0"} == expected
    assert all(p.is_file() for p in expected)


@pytest.mark.parametrize(("name", "queue_name"), CONSUMED)
def test_queue_sample_event_carries_what_the_consumer_reads(name: str, queue_name: str) -> None:
    records = sample(sample_for(name, "SQS"))["Records"]
    assert records, name
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"].startswith("arn:aws:sqs:")
        assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        body = json.loads(record["body"])
        assert set(body) == set(QUEUE_BODIES[name])
        for key, pattern in QUEUE_BODIES[name].items():
            if pattern is int:  # a count from 1
                assert isinstance(body[key], int) and body[key] >= 1, key
                continue
            assert re.fullmatch(pattern, body[key]), key
            if "\\d{4}" in pattern:
                datetime.fromisoformat(body[key])


@pytest.mark.parametrize("name", SCHEDULED)
def test_schedule_sample_event_is_the_input_with_the_time_filled_in(name: str) -> None:
    (schedule,) = [s for n, s in events("ScheduleV2") if n == name]
    event = sample(sample_for(name, "ScheduleV2"))
    expected = json.loads(schedule["Input"])
    assert set(event) == set(expected)
    for key, value in expected.items():
        if value == SCHEDULED_TIME:  # Scheduler fills in an RFC 3339 UTC time
            assert re.fullmatch(UTC_TIME, event[key]), key
            datetime.fromisoformat(event[key])
        else:
            assert event[key] == value, key
