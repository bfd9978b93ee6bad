"""template.yaml says what the design asks: python3.13 on arm64, JWT on every route but the
webhooks, the OpenAPI document and the digest's one-click unsubscribe, a protected table, bounded
logs, least-privilege roles, queues and schedules that dead-letter what fails (and alarm on it),
alarms that can reach their topic, and a sample event for every route and every other event
source."""

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.template import CloudFormationLoader

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

PUBLIC_ROUTES = {
    "POST /webhooks/payments",
    "POST /webhooks/billing",
    "GET /openapi.json",
    # RFC 8058 one-click unsubscribe: a mail client POSTs with no JWT; a signed token is the key.
    "POST /me/notification-preferences/unsubscribe",
}
# The only actions the template grants on "*": X-Ray's (they have no resource-level
# permissions). Beyond the template, SAM attaches AWS managed policies to the roles it makes:
# AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess for `Tracing: Active`, and for an SQS
# event AWSLambdaSQSQueueExecutionRole (sqs:ReceiveMessage, DeleteMessage, GetQueueAttributes
# on "*"): the event source mapping polls with the function's role.
WILDCARD_RESOURCE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

# What each function may do, by resource: any new grant shows up here. Put/Update/DeleteItem of
# the API are also what Powertools' idempotency records (same table) need.
TABLE_READS = {"dynamodb:GetItem", "dynamodb:Query"}
TABLE_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"}
GET_SECRET = {"secretsmanager:GetSecretValue"}
SES_SEND = {"ses:SendEmail", "ses:SendRawEmail"}
# SES resources, as resource_label writes them: any identity (the From address or its verified
# domain), and the configuration set only when one is given.
SES_IDENTITIES = "ses:identity/*"
SES_CONFIGURATION_SET = "ses:configuration-set/${SesConfigurationSet} if HasSesConfigurationSet"
EXPECTED_GRANTS = {
    "WebhooksFunction": {
        "Table": TABLE_READS | TABLE_WRITES | {"dynamodb:DeleteItem", "dynamodb:BatchGetItem"},
        "EventBus": {"events:PutEvents"},
        "PaymentsWebhookSecret": {"secretsmanager:GetSecretValue"},
        "BillingWebhookSecret": {"secretsmanager:GetSecretValue"},
    },
    "ApiFunction": {
        "Table": TABLE_READS | TABLE_WRITES | {"dynamodb:DeleteItem", "dynamodb:BatchGetItem"},
        "Table/index/*": {"dynamodb:Query"},
        "RetryQueue": {"sqs:SendMessage"},
        "EventBus": {"events:PutEvents"},
        "UnsubscribeSecret": GET_SECRET,
    },
    "RetryWorkerFunction": {
        "Table": TABLE_READS | TABLE_WRITES | {"dynamodb:DeleteItem"},
        "EventBus": {"events:PutEvents"},
    },
    "RetryWatchdogFunction": {
        "Table": TABLE_READS | TABLE_WRITES | {"dynamodb:DeleteItem"},
        "Table/index/*": {"dynamodb:Query"},
        "RetryQueue": {"sqs:SendMessage"},
        "EventBus": {"events:PutEvents"},
    },
    "DailyDigestFunction": {
        "Table": TABLE_READS | {"dynamodb:BatchGetItem"},
        "DigestQueue": {"sqs:SendMessage"},
    },
    # Put/Update/Delete/ConditionCheckItem: the send record (at most one digest per day).
    "DigestSenderFunction": {
        "Table": TABLE_READS | TABLE_WRITES | {"dynamodb:DeleteItem"},
        "UnsubscribeSecret": GET_SECRET,
        SES_IDENTITIES: SES_SEND,
        SES_CONFIGURATION_SET: SES_SEND,
    },
    "CardExpiryScanFunction": {
        "Table": TABLE_READS | {"dynamodb:BatchGetItem"},
        "Table/index/*": {"dynamodb:Query"},
        "CardNoticeQueue": {"sqs:SendMessage"},
    },
    # Put/UpdateItem: the send record (at most one notice per card and expiry month).
    "CardNoticeSenderFunction": {
        "Table": TABLE_READS | {"dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "Table/index/*": {"dynamodb:Query"},
        SES_IDENTITIES: SES_SEND,
        SES_CONFIGURATION_SET: SES_SEND,
    },
}
# The one condition a grant carries: SES sends only from the digest's From address.
FROM_THE_DIGEST_SENDER = {"StringEquals": {"ses:FromAddress": {"Ref": "DigestSenderEmail"}}}
# A setting that names a resource comes with the one grant that uses it, and the other way round.
SETTING_GRANTS = {
    "RETRY_QUEUE_URL": ("RetryQueue", "sqs:SendMessage"),
    "EVENT_BUS_NAME": ("EventBus", "events:PutEvents"),
    "DIGEST_QUEUE_URL": ("DigestQueue", "sqs:SendMessage"),
    "CARD_NOTICE_QUEUE_URL": ("CardNoticeQueue", "sqs:SendMessage"),
    "UNSUBSCRIBE_SECRET_ARN": ("UnsubscribeSecret", "secretsmanager:GetSecretValue"),
}
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


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
            if "Statement" in policy:  # a managed policy ({"Ref"}) is read as a resource below
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


def test_only_the_webhooks_the_openapi_document_and_unsubscribe_skip_the_jwt_authorizer(template):
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


def test_table_has_its_four_indexes(template):
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
        "PendingRetries": ([("pending_pk", "HASH"), ("pending_sk", "RANGE")], "ALL"),
        "FailuresByDay": ([("failday_pk", "HASH"), ("failday_sk", "RANGE")], "KEYS_ONLY"),
    }
    assert [(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]] == [
        ("pk", "HASH"),
        ("sk", "RANGE"),
    ]


def test_table_defines_exactly_its_key_attributes_as_strings(template):
    # CloudFormation rejects a defined attribute that no key uses, and a key left undefined.
    props = template["Resources"]["Table"]["Properties"]
    key_schemas = [props["KeySchema"]] + [i["KeySchema"] for i in props["GlobalSecondaryIndexes"]]
    keys = [k["AttributeName"] for schema in key_schemas for k in schema]
    definitions = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
    assert len(definitions) == len(props["AttributeDefinitions"])
    assert set(definitions) == set(keys)
    assert set(definitions.values()) == {"S"}


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


def policy_documents(template: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A function's policies: inline statements, or a managed policy of this template."""
    documents = []
    for policy in template["Resources"][name]["Properties"].get("Policies", []):
        if set(policy) == {"Ref"}:
            managed = template["Resources"][policy["Ref"]]
            assert managed["Type"] == "AWS::IAM::ManagedPolicy", (name, policy)
            documents.append(managed["Properties"]["PolicyDocument"])
        else:
            documents.append(policy)
    return documents


def test_functions_get_permissions_by_statement_not_by_policy_template(template):
    for name, f in of_type(template, "AWS::Serverless::Function").items():
        for policy in f["Properties"].get("Policies", []):
            assert isinstance(policy, dict), name
            assert set(policy) == {"Statement"} or set(policy) == {"Ref"}, name


def test_the_email_senders_share_one_send_statement(template):
    users = [
        name
        for name, f in of_type(template, "AWS::Serverless::Function").items()
        if {"Ref": "SendEmailPolicy"} in f["Properties"].get("Policies", [])
    ]
    assert sorted(users) == ["CardNoticeSenderFunction", "DigestSenderFunction"]


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


SES_ARN = re.compile(
    r"arn:\$\{AWS::Partition\}:ses:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(.+)", re.ASCII
)


def resource_label(resource: Any) -> str:
    """`!GetAtt X.Arn` and `!Ref X` -> "X"; `!Sub ${X.Arn}/suffix` -> "X/suffix";
    `!Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:what` -> "ses:what";
    `!If [Condition, value, !Ref AWS::NoValue]` -> "<value's label> if Condition"."""
    if isinstance(resource, dict) and "Fn::If" in resource:
        condition, value, otherwise = resource["Fn::If"]
        assert otherwise == {"Ref": "AWS::NoValue"}, resource
        return f"{resource_label(value)} if {condition}"
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        ses = SES_ARN.fullmatch(resource["Fn::Sub"])
        if ses:
            return f"ses:{ses[1]}"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        name, attribute = resource["Fn::GetAtt"]
        assert attribute == "Arn", resource
        return str(name)
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/.+)", resource["Fn::Sub"])
        assert match, resource
        return match[1] + match[2]
    raise AssertionError(f"unexpected resource {resource!r}")


def function_grants(template: dict[str, Any], name: str) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for policy in policy_documents(template, name):
        for statement in statements(policy):
            assert statement["Effect"] == "Allow", name
            if "Condition" in statement:
                assert statement["Condition"] == FROM_THE_DIGEST_SENDER, name
                assert set(as_list(statement["Action"])) <= SES_SEND, name
            for resource in as_list(statement["Resource"]):
                grants.setdefault(resource_label(resource), set()).update(
                    as_list(statement["Action"])
                )
    return grants


def test_each_function_gets_exactly_the_permissions_it_needs(template):
    assert set(functions(template)) == set(EXPECTED_GRANTS)
    for name, expected in EXPECTED_GRANTS.items():
        assert function_grants(template, name) == expected, name


def test_the_only_wildcards_in_a_resource_are_the_tables_indexes_and_ses_identities(template):
    for owner, statement in iam_statements(template):
        for resource in as_list(statement["Resource"]):
            if resource == "*" or "*" not in json.dumps(resource):
                continue
            if resource_label(resource) == SES_IDENTITIES:
                # Any identity, as SES authorizes the address or its verified domain, but only
                # from the digest's From address.
                assert set(as_list(statement["Action"])) <= SES_SEND, owner
                assert statement["Condition"] == FROM_THE_DIGEST_SENDER, owner
            else:
                assert resource == {"Fn::Sub": "${Table.Arn}/index/*"}, owner
                assert as_list(statement["Action"]) == ["dynamodb:Query"], owner


def test_a_setting_that_names_a_resource_comes_with_its_grant(template):
    for name, props in functions(template).items():
        variables = props.get("Environment", {}).get("Variables", {})
        grants = function_grants(template, name)
        for setting, (resource, action) in SETTING_GRANTS.items():
            has_setting = variables.get(setting) == {"Ref": resource}
            assert has_setting == (action in grants.get(resource, set())), (name, setting)


def test_the_event_bus_is_named_per_stage(template):
    bus = template["Resources"]["EventBus"]
    assert bus["Type"] == "AWS::Events::EventBus"
    assert bus["Properties"]["Name"] == {"Fn::Sub": "payment-action-center-${Stage}"}


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
        "EVENT_BUS_NAME": {"Ref": "EventBus"},  # a settled e-check retry: PaymentRecovered
    }


def test_the_unsubscribe_secret_is_generated_long_and_outlives_the_stack(template):
    secret = template["Resources"]["UnsubscribeSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated == {"PasswordLength": 64, "ExcludePunctuation": True}
    for name in ("ApiFunction", "DigestSenderFunction"):  # verifies / signs the links
        variables = functions(template)[name]["Environment"]["Variables"]
        assert variables["UNSUBSCRIBE_SECRET_ARN"] == {"Ref": "UnsubscribeSecret"}, name


def test_webhook_secrets_are_generated_as_base64_keys(template):
    for name in ("PaymentsWebhookSecret", "BillingWebhookSecret"):
        generated = template["Resources"][name]["Properties"]["GenerateSecretString"]
        # 44 characters of [A-Za-z0-9] decode as base64: usable as whsec_<value>.
        assert generated == {"PasswordLength": 44, "ExcludePunctuation": True}


# ----------------------------------------------------------------------------- retries


def events_of_type(template: dict[str, Any], event_type: str) -> list[tuple[str, dict[str, Any]]]:
    """(function name, event properties) of every event of that type."""
    return [
        (name, event["Properties"])
        for name, f in of_type(template, "AWS::Serverless::Function").items()
        for event in f["Properties"].get("Events", {}).values()
        if event["Type"] == event_type
    ]


def queue_of(template: dict[str, Any], arn: Any) -> tuple[str, dict[str, Any]]:
    """The queue an `!GetAtt Queue.Arn` names, with its properties."""
    name, attribute = arn["Fn::GetAtt"]
    assert attribute == "Arn"
    queue = template["Resources"][name]
    assert queue["Type"] == "AWS::SQS::Queue"
    return name, queue["Properties"]


def dead_letter_queues(template: dict[str, Any]) -> set[str]:
    """Queues that receive what failed: redrive targets and schedules' dead-letter queues."""
    found = set()
    for queue in of_type(template, "AWS::SQS::Queue").values():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            found.add(queue_of(template, redrive["deadLetterTargetArn"])[0])
    for _, schedule in events_of_type(template, "ScheduleV2"):
        found.add(queue_of(template, schedule["DeadLetterConfig"]["Arn"])[0])
    return found


QUEUE_CONSUMERS = {
    "RetryWorkerFunction": "RetryQueue",
    "DigestSenderFunction": "DigestQueue",
    "CardNoticeSenderFunction": "CardNoticeQueue",
}


def test_each_queue_has_its_one_consumer(template):
    consumers = {
        name: queue_of(template, e["Queue"])[0] for name, e in events_of_type(template, "SQS")
    }
    assert consumers == QUEUE_CONSUMERS
    props = functions(template)["RetryWorkerFunction"]
    assert props["CodeUri"] == "functions/retry_worker/"
    assert props["Environment"]["Variables"]["PROCESSOR"] == {"Ref": "Processor"}


# BatchSize and MaximumBatchingWindowInSeconds (absent: 0) of each consumer. A digest send takes
# longer than a retry: smaller batches, so one slow organization holds up fewer others.
BATCHING = {
    "RetryWorkerFunction": (10, 1),
    "DigestSenderFunction": (5, None),
    "CardNoticeSenderFunction": (5, None),
}


def test_queue_consumers_report_batch_item_failures_with_bounded_concurrency(template):
    # Without ReportBatchItemFailures one failed message would send its whole batch back.
    for name, event in events_of_type(template, "SQS"):
        assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        batch_size, window = BATCHING[name]
        assert event["BatchSize"] == batch_size, name
        assert event.get("MaximumBatchingWindowInSeconds") == window, name
        assert event["ScalingConfig"]["MaximumConcurrency"] == 5, name


def test_consumed_queues_outlast_their_consumer_and_dead_letter_after_five_receives(template):
    for name, event in events_of_type(template, "SQS"):
        _, queue = queue_of(template, event["Queue"])
        # AWS's advice: a visibility timeout of at least 6 x the function's timeout.
        assert queue["VisibilityTimeout"] >= 6 * functions(template)[name]["Timeout"], name
        redrive = queue["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == 5, name
        _, dead_letters = queue_of(template, redrive["deadLetterTargetArn"])
        # A message keeps its age in the dead-letter queue: that one must keep longer.
        assert dead_letters["MessageRetentionPeriod"] == 1209600, name
        assert queue["MessageRetentionPeriod"] < dead_letters["MessageRetentionPeriod"], name


def test_every_queue_is_encrypted_and_unnamed(template):
    queues = of_type(template, "AWS::SQS::Queue")
    assert {
        "RetryQueue",
        "RetryDeadLetterQueue",
        "WatchdogDeadLetterQueue",
        "DigestQueue",
        "DigestDeadLetterQueue",
        "DigestScheduleDeadLetterQueue",
    } <= set(queues)
    for name, queue in queues.items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name
        assert "QueueName" not in queue["Properties"], name  # dev and prod share an account


def test_the_card_expiry_scan_runs_daily_and_queues_one_message_per_organization(template):
    ((name, schedule),) = [
        (n, s) for n, s in events_of_type(template, "ScheduleV2") if n == "CardExpiryScanFunction"
    ]
    # Daily: a card that starts qualifying later in the month is notified the next day.
    assert schedule["ScheduleExpression"] == {"Ref": "CardExpiryScanSchedule"}
    assert template["Parameters"]["CardExpiryScanSchedule"]["Default"] == "cron(0 13 * * ? *)"
    assert queue_of(template, schedule["DeadLetterConfig"]["Arn"])[0] == (
        "CardExpiryScheduleDeadLetterQueue"
    )
    props = functions(template)[name]
    assert props["Environment"]["Variables"] == {
        "CARD_NOTICE_QUEUE_URL": {"Ref": "CardNoticeQueue"}
    }


def test_every_schedule_retries_then_dead_letters(template):
    assert not events_of_type(template, "Schedule"), "use ScheduleV2 (EventBridge Scheduler)"
    schedules = events_of_type(template, "ScheduleV2")
    assert schedules
    for name, schedule in schedules:
        assert schedule["RetryPolicy"] == {
            "MaximumRetryAttempts": 3,
            "MaximumEventAgeInSeconds": 3600,
        }, name
        # An explicit queue: encrypted, 14 days, and alarmed on (a queue SAM would make for
        # `Type: SQS` has none of these).
        _, dead_letters = queue_of(template, schedule["DeadLetterConfig"]["Arn"])
        assert dead_letters["MessageRetentionPeriod"] == 1209600, name
        # SAM would name the schedule after its logical id: dev and prod would collide.
        assert schedule["OmitName"] is True, name


def test_every_schedule_passes_the_time_it_was_scheduled_for(template):
    for name, schedule in events_of_type(template, "ScheduleV2"):
        assert json.loads(schedule["Input"]) == {"scheduled_time": SCHEDULED_TIME}, name


def test_the_watchdog_runs_every_15_minutes_with_its_deadlines(template):
    ((name, schedule),) = [
        (n, s) for n, s in events_of_type(template, "ScheduleV2") if n == "RetryWatchdogFunction"
    ]
    assert schedule["ScheduleExpression"] == "rate(15 minutes)"
    props = functions(template)[name]
    assert props["CodeUri"] == "functions/retry_watchdog/"
    variables = props["Environment"]["Variables"]
    assert variables["PENDING_DEADLINE_CREDIT_CARD_MINUTES"] == "30"
    assert variables["PENDING_DEADLINE_ECHECK_HOURS"] == "120"
    assert variables["PROCESSOR"] == {"Ref": "Processor"}


def test_the_daily_digest_runs_hourly_and_queues_one_message_per_organization(template):
    ((name, schedule),) = [
        (n, s) for n, s in events_of_type(template, "ScheduleV2") if n == "DailyDigestFunction"
    ]
    # Every hour at minute 0: each organization's 07:00 local hour, whatever its time zone.
    assert schedule["ScheduleExpression"] == "cron(0 * * * ? *)"
    assert queue_of(template, schedule["DeadLetterConfig"]["Arn"])[0] == (
        "DigestScheduleDeadLetterQueue"
    )
    props = functions(template)[name]
    assert props["CodeUri"] == "functions/daily_digest/"
    assert props["Handler"] == "app.lambda_handler"
    assert props["Timeout"] == 60
    assert props["Environment"]["Variables"] == {"DIGEST_QUEUE_URL": {"Ref": "DigestQueue"}}


def test_the_digest_sender_sends_from_the_parameters_and_links_to_the_api(template):
    props = functions(template)["DigestSenderFunction"]
    assert props["CodeUri"] == "functions/digest_sender/"
    assert props["Handler"] == "app.lambda_handler"
    assert props["Timeout"] == 60
    assert props["Environment"]["Variables"] == {
        "DIGEST_SENDER_EMAIL": {"Ref": "DigestSenderEmail"},
        "SES_CONFIGURATION_SET": {"Ref": "SesConfigurationSet"},  # "" when none
        "UNSUBSCRIBE_SECRET_ARN": {"Ref": "UnsubscribeSecret"},
        "API_URL": {"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
    }


def test_the_digest_sender_parameter_is_a_bare_address_to_override(template):
    parameter = template["Parameters"]["DigestSenderEmail"]
    # A placeholder SES can never verify (.invalid): a stage that forgets it fails loudly.
    assert parameter["Default"].endswith(".invalid")
    assert "OVERRIDE" in parameter["Description"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch(parameter["Default"])
    assert pattern.fullmatch("notifications@centre.example.com")
    for refused in ("Centre <a@b.example>", "a@b", "a b@c.example", "@c.example", ""):
        assert not pattern.fullmatch(refused), refused


def test_the_ses_configuration_set_is_optional(template):
    assert template["Parameters"]["SesConfigurationSet"]["Default"] == ""
    assert template["Conditions"]["HasSesConfigurationSet"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SesConfigurationSet"}, ""]}]
    }


def test_only_the_sandbox_processor_can_be_chosen_for_now(template):
    parameter = template["Parameters"]["Processor"]
    assert parameter["AllowedValues"] == ["sandbox"]
    assert parameter["Default"] == "sandbox"


def test_the_stack_outputs_the_event_bus_and_the_retry_queue(template):
    outputs = template["Outputs"]
    assert outputs["EventBusName"]["Value"] == {"Ref": "EventBus"}
    assert outputs["RetryQueueUrl"]["Value"] == {"Ref": "RetryQueue"}


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


def test_every_dead_letter_queue_alarms_as_soon_as_it_holds_a_message(template):
    watched = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: a
        for a in alarms(template)
        if a["Namespace"] == "AWS/SQS"
    }
    queues = dead_letter_queues(template)
    assert queues == {
        "RetryDeadLetterQueue",
        "WatchdogDeadLetterQueue",
        "DigestDeadLetterQueue",
        "DigestScheduleDeadLetterQueue",
        "CardNoticeDeadLetterQueue",
        "CardExpiryScheduleDeadLetterQueue",
    }
    for queue in queues:
        alarm = watched[queue]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        ]
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["Period"] == 300
        assert alarm["TreatMissingData"] == "notBreaching"


def test_the_http_api_alarms_on_5xx(template):
    (alarm,) = [a for a in alarms(template) if a["Namespace"] == "AWS/ApiGateway"]
    assert alarm["MetricName"] == "5xx"
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "ApiId": {"Ref": "HttpApi"},
        "Stage": "$default",
    }


def test_a_digest_recipient_ses_refused_alarms_within_the_hour(template):
    (alarm,) = [a for a in alarms(template) if a["Namespace"] == "PaymentActionCenter"]
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    # Powertools metrics: the namespace and the service dimension come from the Globals.
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
    ]
    assert alarm["MetricName"] == "DigestRecipientFailed"
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 3600, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"


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
    if event.get("version") == "2.0":  # an HTTP API payload: its body is a string
        assert event["requestContext"]["routeKey"] == event["routeKey"]
        assert event["requestContext"]["http"]["method"] == event["routeKey"].split()[0]
        is_json = event["headers"].get("content-type", "application/json") == "application/json"
        if event.get("body") is not None and not event.get("isBase64Encoded") and is_json:
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


# Events other than HTTP: events/<the function's folder>_<suffix>.json
SAMPLE_SUFFIXES = {"SQS": "sqs", "ScheduleV2": "schedule"}


def sample_event_for(template: dict[str, Any], function: str, event_type: str) -> Path:
    folder = Path(functions(template)[function]["CodeUri"]).name
    return EVENTS / f"{folder}_{SAMPLE_SUFFIXES[event_type]}.json"


def test_every_other_event_source_has_a_sample_event_and_every_sample_a_source(template):
    expected = set()
    for f in of_type(template, "AWS::Serverless::Function").values():
        for event in f["Properties"].get("Events", {}).values():
            assert event["Type"] in {"HttpApi", *SAMPLE_SUFFIXES}, event["Type"]
    for event_type in SAMPLE_SUFFIXES:
        for name, _ in events_of_type(template, event_type):
            path = sample_event_for(template, name, event_type)
            assert path.is_file(), f"{name}: no {path.relative_to(ROOT)}"
            expected.add(path)
    others = {
        p
        for p in sample_events()
        if json.loads(p.read_text(encoding="utf-8")).get("version") != "2.0"
    }
    assert others == expected


def check_retry_request(body: dict[str, Any]) -> None:
    assert set(body) == {"organization_id", "entry_id", "attempt"}
    assert re.fullmatch(r"txn_[a-z2-7]{26}", body["entry_id"])
    assert isinstance(body["attempt"], int) and body["attempt"] >= 1


def check_digest_request(body: dict[str, Any]) -> None:
    assert set(body) == {"organization_id", "window_end", "local_date"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["window_end"])
    datetime.fromisoformat(body["window_end"])
    assert datetime.strptime(body["local_date"], "%Y-%m-%d")


def check_card_notice_request(body: dict[str, Any]) -> None:
    assert set(body) == {"organization_id", "now"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["now"])


QUEUE_BODIES = {
    "RetryWorkerFunction": check_retry_request,
    "DigestSenderFunction": check_digest_request,
    "CardNoticeSenderFunction": check_card_notice_request,
}


def test_queue_sample_events_carry_what_the_consumer_reads(template):
    for name, _ in events_of_type(template, "SQS"):
        event = json.loads(sample_event_for(template, name, "SQS").read_text(encoding="utf-8"))
        assert event["Records"], name
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs"
            assert record["eventSourceARN"].startswith("arn:aws:sqs:")
            assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1
            assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
            QUEUE_BODIES[name](json.loads(record["body"]))


def test_schedule_sample_events_are_the_input_with_the_time_filled_in(template):
    for name, schedule in events_of_type(template, "ScheduleV2"):
        event = json.loads(sample_event_for(template, name, "ScheduleV2").read_text("utf-8"))
        expected = json.loads(schedule["Input"])
        assert set(event) == set(expected), name
        for key, value in expected.items():
            if value == SCHEDULED_TIME:  # Scheduler fills in an RFC 3339 UTC time
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event[key]), name
                datetime.fromisoformat(event[key])
            else:
                assert event[key] == value, name
