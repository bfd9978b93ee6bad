"""template.yaml says what the design asks: python3.13 on arm64, JWT on every route but the
webhooks and the OpenAPI document, a protected table, bounded logs, least-privilege roles,
alarms that can reach their topic, and a sample event for every route."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

PUBLIC_ROUTES = {"POST /webhooks/payments", "POST /webhooks/billing", "GET /openapi.json"}
# The only actions AWS grants on "*" that our functions get: X-Ray's, which SAM attaches for
# `Tracing: Active` (AWSXrayWriteOnlyAccess); they have no resource-level permissions.
WILDCARD_RESOURCE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


# TODO: local/template.py has the same loader (CloudFormationLoader); keep one copy, shared.
class CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags: `!Ref X` -> {"Ref": "X"}, `!Sub s` -> {"Fn::Sub": s}."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    with TEMPLATE.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=CloudFormationLoader)  # a SafeLoader: no arbitrary objects


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's properties with the Globals it inherits."""
    defaults = template.get("Globals", {}).get("Function", {})
    found = of_type(template, "AWS::Serverless::Function")
    return {name: {**defaults, **f["Properties"]} for name, f in found.items()}


def http_routes(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """'METHOD /path' -> the HttpApi event's properties, over every function."""
    routes = {}
    for f in of_type(template, "AWS::Serverless::Function").values():
        for event in f["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                props = event["Properties"]
                routes[f"{props['Method'].upper()} {props['Path']}"] = props
    return routes


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def iam_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every identity-policy statement in the template: functions' Policies and IAM resources."""
    found = []
    for name, f in of_type(template, "AWS::Serverless::Function").items():
        for policy in f["Properties"].get("Policies", []):
            found += [(name, s) for s in statements(policy)]
    for name, role in of_type(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            found += [(name, s) for s in statements(policy["PolicyDocument"])]
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, policy in of_type(template, kind).items():
            found += [(name, s) for s in statements(policy["Properties"]["PolicyDocument"])]
    return found


def contains_intrinsic(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k == "Ref" or k.startswith("Fn::") for k in value) or any(
            contains_intrinsic(v) for v in value.values()
        )
    if isinstance(value, list):
        return any(contains_intrinsic(v) for v in value)
    return False


# ----------------------------------------------------------------------------- functions


def test_every_function_runs_python313_on_arm64_with_tracing_and_the_core_layer(template):
    assert functions(template)
    for name, props in functions(template).items():
        assert props["Runtime"] == "python3.13", name
        assert props["Architectures"] == ["arm64"], name
        assert props["Tracing"] == "Active", name
        assert {"Ref": "CoreLayer"} in props["Layers"], name


def test_core_layer_is_built_for_python313_on_arm64(template):
    layer = template["Resources"]["CoreLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/core/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


def test_every_function_gets_the_table_name_and_powertools_settings(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == {"Ref": "Table"}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "payment-action-center"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "PaymentActionCenter"


def test_every_function_has_a_log_group_with_bounded_retention(template):
    log_groups = of_type(template, "AWS::Logs::LogGroup").values()
    names = {json.dumps(g["Properties"].get("LogGroupName")): g for g in log_groups}
    for name in functions(template):
        group = names.get(json.dumps({"Fn::Sub": f"/aws/lambda/${{{name}}}"}))
        assert group is not None, f"{name} has no explicit log group"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_api_access_logs_have_bounded_retention(template):
    for api in of_type(template, "AWS::Serverless::HttpApi").values():
        destination = api["Properties"]["AccessLogSettings"]["DestinationArn"]
        group = template["Resources"][destination["Fn::GetAtt"][0]]
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# ----------------------------------------------------------------------------- routes


def test_the_http_api_checks_jwts_by_default(template):
    auth = template["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "JwtAuthorizer"
    authorizer = auth["Authorizers"]["JwtAuthorizer"]
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    assert authorizer["JwtConfiguration"] == {
        "issuer": {"Ref": "JwtIssuer"},
        "audience": [{"Ref": "JwtAudience"}],
    }


def test_every_route_is_on_the_api_that_has_the_authorizer(template):
    # An HttpApi event without ApiId lands on SAM's implicit API, which has no authorizer.
    for key, route in http_routes(template).items():
        assert route.get("ApiId") == {"Ref": "HttpApi"}, key


def test_only_the_webhooks_and_the_openapi_document_skip_the_jwt_authorizer(template):
    routes = http_routes(template)
    public = {key for key, r in routes.items() if r.get("Auth", {}).get("Authorizer") == "NONE"}
    assert public == PUBLIC_ROUTES
    for key, route in routes.items():
        if key not in PUBLIC_ROUTES:
            assert route.get("Auth", {}).get("Authorizer", "JwtAuthorizer") == "JwtAuthorizer", key


# ----------------------------------------------------------------------------- table


def test_table_is_protected_and_outlives_the_stack(template):
    table = template["Resources"]["Table"]
    props = table["Properties"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert "TableName" not in props


def test_table_has_the_open_entries_and_cards_by_expiry_indexes(template):
    props = template["Resources"]["Table"]["Properties"]
    indexes = {
        index["IndexName"]: (
            [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]],
            index["Projection"]["ProjectionType"],
        )
        for index in props["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "OpenEntries": ([("open_pk", "HASH"), ("open_sk", "RANGE")], "ALL"),
        "CardsByExpiry": ([("expiry_pk", "HASH"), ("expiry_sk", "RANGE")], "ALL"),
    }
    assert [(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]] == [
        ("pk", "HASH"),
        ("sk", "RANGE"),
    ]


def test_table_definition_is_literal_for_the_local_stack(template):
    # local/template.py sends these properties to CreateTable / UpdateTimeToLive as they are.
    props = template["Resources"]["Table"]["Properties"]
    for key in (
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "BillingMode",
        "TimeToLiveSpecification",
    ):
        assert not contains_intrinsic(props[key]), key


# ----------------------------------------------------------------------------- IAM


def test_functions_get_permissions_by_statement_not_by_policy_template(template):
    for name, f in of_type(template, "AWS::Serverless::Function").items():
        for policy in f["Properties"].get("Policies", []):
            assert isinstance(policy, dict) and set(policy) == {"Statement"}, name


def test_no_iam_statement_grants_every_action_or_every_resource(template):
    found = iam_statements(template)
    assert found
    for owner, statement in found:
        actions = as_list(statement["Action"])
        assert "NotAction" not in statement and "NotResource" not in statement, owner
        for action in actions:
            assert action != "*" and not action.endswith(":*"), (owner, action)
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= WILDCARD_RESOURCE_ACTIONS, (owner, actions)


def test_webhooks_function_reads_only_its_two_secrets(template):
    props = template["Resources"]["WebhooksFunction"]["Properties"]
    secret_statements = [
        s
        for policy in props["Policies"]
        for s in statements(policy)
        if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
    ]
    assert [as_list(s["Action"]) for s in secret_statements] == [["secretsmanager:GetSecretValue"]]
    assert as_list(secret_statements[0]["Resource"]) == [
        {"Ref": "PaymentsWebhookSecret"},
        {"Ref": "BillingWebhookSecret"},
    ]
    assert props["Environment"]["Variables"] == {
        "PAYMENTS_WEBHOOK_SECRET_ARN": {"Ref": "PaymentsWebhookSecret"},
        "BILLING_WEBHOOK_SECRET_ARN": {"Ref": "BillingWebhookSecret"},
    }


def test_webhook_secrets_are_generated_as_base64_keys(template):
    for name in ("PaymentsWebhookSecret", "BillingWebhookSecret"):
        generated = template["Resources"][name]["Properties"]["GenerateSecretString"]
        # 44 characters of [A-Za-z0-9] decode as base64: usable as whsec_<value>.
        assert generated == {"PasswordLength": 44, "ExcludePunctuation": True}


# ----------------------------------------------------------------------------- alarms


def alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()]


def test_every_function_alarms_on_errors_and_throttles(template):
    watched = {
        (a["MetricName"], a["Dimensions"][0]["Value"]["Ref"])
        for a in alarms(template)
        if a["Namespace"] == "AWS/Lambda"
    }
    for name in functions(template):
        assert {("Errors", name), ("Throttles", name)} <= watched, name


def test_the_http_api_alarms_on_5xx(template):
    (alarm,) = [a for a in alarms(template) if a["Namespace"] == "AWS/ApiGateway"]
    assert alarm["MetricName"] == "5xx"
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "ApiId": {"Ref": "HttpApi"},
        "Stage": "$default",
    }


def test_alarms_notify_an_encrypted_topic_cloudwatch_can_publish_to(template):
    for alarm in alarms(template):
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    key_ref = template["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    # The AWS managed alias/aws/sns key cannot grant CloudWatch: alarms would never arrive.
    key = template["Resources"][key_ref["Ref"]]["Properties"]
    assert key["EnableKeyRotation"] is True
    (grant,) = [
        s
        for s in statements(key["KeyPolicy"])
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_alarm_email_is_subscribed_only_when_given(template):
    (subscription,) = of_type(template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


# ----------------------------------------------------------------------------- sample events


def sample_events() -> list[Path]:
    return sorted(EVENTS.glob("*.json"))


@pytest.mark.parametrize("path", sample_events(), ids=lambda p: p.name)
def test_sample_event_parses(path):
    event = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(event, dict)
    if event.get("version") == "2.0":  # an HTTP API payload: its body is a JSON string
        assert event["requestContext"]["routeKey"] == event["routeKey"]
        if event.get("body") is not None and not event.get("isBase64Encoded"):
            json.loads(event["body"])


def test_every_route_has_a_sample_event_and_every_http_event_a_route(template):
    events = [json.loads(p.read_text(encoding="utf-8")) for p in sample_events()]
    http_events = {e["routeKey"]: e for e in events if e.get("version") == "2.0"}
    assert set(http_events) == set(http_routes(template))
    for key, event in http_events.items():
        claims = event["requestContext"].get("authorizer", {}).get("jwt", {}).get("claims")
        if key in PUBLIC_ROUTES:
            assert claims is None, key
        else:
            assert {"sub", "org_id"} <= set(claims or {}), key
