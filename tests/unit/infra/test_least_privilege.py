"""Least privilege, judged on what CloudFormation receives: template.yaml expanded by SAM's own
translator (tools/template.py `translate`), so the roles and policies SAM generates (the
schedules' roles, and the AWS managed policies it attaches to a function left without a role)
are judged with the template's own.

Each check is a function of an expanded template that returns what it finds wrong, so the same
checks run on template.yaml (nothing found) and on broken copies of it (the last tests: each
check finds what it is there to find).

- No identity policy grants an action with a `*` in it (`*`, `sqs:*`, `dynamodb:Get*`), nor a
  resource with a `*` in it, but for the commented cases below where AWS requires one.
- No role has a managed policy but the template's own, listed below: no AWS managed policy.
- Each function has a role of its own; it writes to its own log group only.
- Each SQS consumer touches its own queue only, with what Lambda's event source mapping calls;
  no other role may receive from or delete in a queue.
- Only the functions whose code deletes items (tests/unit/infra/test_template.py's code_needs
  traces it) hold dynamodb:DeleteItem, and only on the tables they delete from.
- Resource policies (the console bucket's, the alarm key's) allow no `*` action or principal but
  the commented ones; a Deny may be as wide as it likes.
"""

import copy
import functools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.infra.test_template import code_needs
from tools.template import load, resources, translate

type Doc = dict[str, Any]

PARAMETERS = {
    "Stage": "dev",
    "JwtIssuer": "https://issuer.example.com",
    "JwtAudience": "console",
    "AdminOrigin": "https://admin.example.com",
}


def expand(template: Doc) -> Doc:
    return translate(template, PARAMETERS)


EXPANDED = expand(load())

# ----------------------------------------------------------------------------- the allow-lists

# Actions IAM only accepts on Resource "*" (no resource-level permissions), and the condition
# each must carry (None: none exists for it).
WILDCARD_RESOURCE_ACTIONS: dict[str, str | None] = {
    # Tracing: Active (Globals): Lambda uploads each function's trace segments with its role.
    "xray:PutTraceSegments": None,
    "xray:PutTelemetryRecords": None,
}
# Resource patterns with a `*` that IAM needs: (the pattern as the template renders it, the
# actions allowed on it, the condition key the statement must carry (None: none)).
SES_IDENTITIES = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"
WILDCARD_RESOURCES: dict[str, tuple[set[str], str | None]] = {
    # SES authorizes a send on the identity it matched, the From address or its verified domain
    # (and, while the account is in the SES sandbox, the recipients'): any identity, but only
    # from the configured From address (SendEmailPolicy). SES v2 SendEmail (adapters/aws/ses.py)
    # is authorized as ses:SendEmail: the code never sends raw.
    SES_IDENTITIES: ({"ses:SendEmail"}, "ses:FromAddress"),
}
# A log group's Arn attribute is `arn:...:log-group:<name>:*`: its streams, which Lambda names
# itself. Allowed for writing logs, and only on the function's own group (checked below).
LOG_WRITES = {"logs:CreateLogStream", "logs:PutLogEvents"}
# Managed policies a role may have: the template's own, by logical id. No AWS managed policy:
# SAM's defaults grant logs on every log group (AWSLambdaBasicExecutionRole), receive and delete
# on every queue (AWSLambdaSQSQueueExecutionRole) and X-Ray's sampling reads besides the upload
# (AWSXrayWriteOnlyAccess).
TEMPLATE_MANAGED_POLICIES = {"TracingPolicy", "SendEmailPolicy"}
AWS_MANAGED_POLICIES: set[str] = set()
# What Lambda's event source mapping calls on an SQS queue with the function's role (Lambda's
# documentation: "Execution role permissions" of services-sqs-configure). Nothing in the code
# changes a message's visibility: a failed message waits out the visibility timeout.
CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
# Resource policies: allowed wildcard actions, by the principal they are granted to.
LOGS_SERVICE = "logs.${AWS::Region}.${AWS::URLSuffix}"
RESOURCE_POLICY_WILDCARDS: dict[str, set[str]] = {
    # A KMS key policy's first statement, as AWS writes it by default: the account (its IAM
    # policies) administers the key. Without it no IAM policy can grant anything on the key and
    # only AWS support can make it manageable again. In a key policy Resource "*" is the key.
    "kms:*": {"arn:${AWS::Partition}:iam::${AWS::AccountId}:root"},
    # CloudWatch alarms publish to the encrypted alarm topic: the grant AWS documents for an
    # AWS service publishing to an SNS topic encrypted with a customer managed key.
    # CloudWatch Logs encrypts the log groups with the key: the actions its documentation
    # gives, for this account's log groups only (an encryption-context condition).
    "kms:GenerateDataKey*": {"cloudwatch.amazonaws.com", LOGS_SERVICE},
    "kms:Encrypt*": {LOGS_SERVICE},
    "kms:Decrypt*": {LOGS_SERVICE},
    "kms:ReEncrypt*": {LOGS_SERVICE},
    "kms:Describe*": {LOGS_SERVICE},
}

IDENTITY_POLICY_TYPES = {
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::RolePolicy",
}

# ----------------------------------------------------------------------------- reading policies


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def target(value: Any) -> str | None:
    """`{"Ref": X}` and `{"Fn::GetAtt": [X, ...]}` -> X."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def rendered(template: Doc, value: Any) -> list[str]:
    """A policy's Resource (or Principal) value as the strings it may stand for, intrinsics
    written as ${...}: both branches of an If; a log group's Arn with the `:*` CloudFormation
    gives it."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in rendered(template, item)]
    if not isinstance(value, dict):
        return [json.dumps(value)]
    if "Fn::If" in value:
        return [s for branch in value["Fn::If"][1:] for s in rendered(template, branch)]
    if value == {"Ref": "AWS::NoValue"}:
        return []
    if "Ref" in value:
        return [f"${{{value['Ref']}}}"]
    if "Fn::GetAtt" in value:
        name, attribute = value["Fn::GetAtt"]
        kind = resources(template).get(name, {}).get("Type")
        suffix = ":*" if (kind, attribute) == ("AWS::Logs::LogGroup", "Arn") else ""
        return [f"${{{name}.{attribute}}}{suffix}"]
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        return [text if isinstance(text, str) else text[0]]
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return [separator.join("".join(rendered(template, p)) for p in parts)]
    return [json.dumps(value, sort_keys=True)]


def documents(template: Doc) -> Iterator[tuple[str, Doc]]:
    """(owner, policy document) of every identity policy: roles' inline policies, policies,
    managed policies."""
    for name, resource in resources(template).items():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies") or []:
                yield name, policy["PolicyDocument"]
        elif resource["Type"] in IDENTITY_POLICY_TYPES:
            yield name, props["PolicyDocument"]


def statements(document: Doc) -> list[Doc]:
    return [s for s in as_list(document.get("Statement") or []) if isinstance(s, dict)]


def role_documents(template: Doc, role: str) -> list[Doc]:
    """Every policy document that applies to a role: inline, managed (the template's) and the
    AWS::IAM::Policy / RolePolicy resources attached to it."""
    props = resources(template)[role].get("Properties") or {}
    found = [p["PolicyDocument"] for p in props.get("Policies") or []]
    for arn in props.get("ManagedPolicyArns") or []:
        managed = resources(template).get(target(arn) or "")
        if managed and managed["Type"] == "AWS::IAM::ManagedPolicy":
            found.append(managed["Properties"]["PolicyDocument"])
    for resource in resources(template).values():
        attached = resource.get("Properties") or {}
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in attached.get("Roles", []):
            found.append(attached["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::RolePolicy" and attached.get("RoleName") == {"Ref": role}:
            found.append(attached["PolicyDocument"])
    return found


def role_grants(template: Doc, role: str) -> Iterator[tuple[str, str]]:
    """(action, rendered resource) for every Allow of every document of the role."""
    for document in role_documents(template, role):
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            for action in as_list(statement.get("Action") or []):
                for resource in rendered(template, statement.get("Resource")):
                    yield action, resource


def functions(template: Doc) -> dict[str, str]:
    """Each AWS::Lambda::Function -> the logical id of its role."""
    found = {}
    for name, resource in resources(template, "AWS::Lambda::Function").items():
        found[name] = target(resource["Properties"].get("Role")) or ""
    return found


def sqs_consumers(template: Doc) -> dict[str, str]:
    """Each function fed by an SQS event source mapping -> its queue's logical id."""
    found = {}
    queues = resources(template, "AWS::SQS::Queue")
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        queue = target(props.get("EventSourceArn"))
        if queue in queues:
            found[target(props["FunctionName"]) or ""] = queue
    return found


# ----------------------------------------------------------------------------- the checks


def wildcard_actions(template: Doc) -> list[str]:
    """Allowed actions with a `*` (all, a service's all, a pattern), and NotAction."""
    found = []
    for owner, document in documents(template):
        for statement in statements(document):
            if "NotAction" in statement or "NotResource" in statement:
                found.append(f"{owner}: NotAction/NotResource {statement}")
            if statement.get("Effect") != "Allow":
                continue
            wide = [a for a in as_list(statement.get("Action") or []) if "*" in a]
            found += [f"{owner}: action {action}" for action in wide]
    return found


def wildcard_resources(template: Doc) -> list[str]:
    """Resources with a `*` beyond the allow-lists (log groups: see own_log_groups)."""
    found = []
    for owner, document in documents(template):
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            actions = set(as_list(statement.get("Action") or []))
            condition = json.dumps(statement.get("Condition") or {})
            for resource in rendered(template, statement.get("Resource")):
                if "*" not in resource:
                    continue
                if resource == "*":
                    allowed = {
                        a
                        for a, key in WILDCARD_RESOURCE_ACTIONS.items()
                        if key is None or f'"{key}"' in condition
                    }
                elif resource in WILDCARD_RESOURCES:
                    allowed, key = WILDCARD_RESOURCES[resource]
                    allowed = allowed if key is None or f'"{key}"' in condition else set()
                elif resource.endswith(".Arn}:*"):  # a log group's streams
                    allowed = LOG_WRITES
                else:
                    allowed = set()
                if not actions <= allowed:
                    found.append(f"{owner}: {sorted(actions - allowed)} on {resource}")
    return found


def managed_policies(template: Doc) -> list[str]:
    found = []
    for name, role in resources(template, "AWS::IAM::Role").items():
        for arn in role["Properties"].get("ManagedPolicyArns") or []:
            own = target(arn)
            if own is not None and own in TEMPLATE_MANAGED_POLICIES:
                continue
            if isinstance(arn, str) and arn.rsplit("/", 1)[-1] in AWS_MANAGED_POLICIES:
                continue
            found.append(f"{name}: managed policy {arn}")
    return found


def roles_of_their_own(template: Doc) -> list[str]:
    """Each function: a role no other function has, that only Lambda may assume."""
    found = []
    roles = functions(template)
    for name, role in roles.items():
        if list(roles.values()).count(role) != 1:
            found.append(f"{name}: role {role} shared")
        trust = (resources(template).get(role) or {}).get("Properties", {})
        trusted = statements(trust.get("AssumeRolePolicyDocument") or {})
        principals = [list(_principals(s.get("Principal"))) for s in trusted]
        if principals != [["lambda.amazonaws.com"]]:
            found.append(f"{name}: role {role} assumable by {principals}")
    return found


def own_log_groups(template: Doc) -> list[str]:
    """Each function writes logs to its own log group (/aws/lambda/<function>) only."""
    found = []
    groups = {
        (r["Properties"].get("LogGroupName") or {}).get("Fn::Sub"): name
        for name, r in resources(template, "AWS::Logs::LogGroup").items()
        if isinstance(r["Properties"].get("LogGroupName"), dict)
    }
    for name, role in functions(template).items():
        own = groups.get(f"/aws/lambda/${{{name}}}")
        granted = {(a, r) for a, r in role_grants(template, role) if a.startswith("logs:")}
        if {a for a, _ in granted} != LOG_WRITES:
            found.append(f"{name}: logs actions {sorted({a for a, _ in granted})}")
        found += [f"{name}: {a} on {r}" for a, r in sorted(granted) if r != f"${{{own}.Arn}}:*"]
    return found


def consumers_own_queue_only(template: Doc) -> list[str]:
    """An SQS consumer: exactly CONSUME on its queue, no SQS action on anything else."""
    found = []
    for name, queue in sqs_consumers(template).items():
        role = functions(template)[name]
        sqs = {(a, r) for a, r in role_grants(template, role) if a.startswith("sqs:")}
        own = {a for a, r in sqs if r == f"${{{queue}.Arn}}"}
        if own != CONSUME:
            found.append(f"{name}: {sorted(own)} on its queue {queue}")
        found += [f"{name}: {a} on {r}" for a, r in sorted(sqs) if r != f"${{{queue}.Arn}}"]
    return found


def queues_consumed_by_their_consumer_only(template: Doc) -> list[str]:
    """No role but a queue's consumer's may receive from it or delete from it."""
    found = []
    consumers = {functions(template)[f]: q for f, q in sqs_consumers(template).items()}
    for role in resources(template, "AWS::IAM::Role"):
        for action, resource in role_grants(template, role):
            if action in CONSUME and resource != f"${{{consumers.get(role)}.Arn}}":
                found.append(f"{role}: {action} on {resource}")
    return sorted(found)


def named_indexes(template: Doc) -> list[str]:
    """A grant on a table index names an index the table has."""
    found = []
    for name, table in resources(template, "AWS::DynamoDB::Table").items():
        indexes = {i["IndexName"] for i in table["Properties"].get("GlobalSecondaryIndexes", [])}
        prefix = f"${{{name}.Arn}}/index/"
        for role in resources(template, "AWS::IAM::Role"):
            for action, resource in role_grants(template, role):
                if resource.startswith(prefix) and resource[len(prefix) :] not in indexes:
                    found.append(f"{role}: {action} on {resource}")
    return found


@functools.cache
def code_deletes() -> frozenset[tuple[str, str]]:
    """(function, table as rendered) of every function whose code deletes items of the table,
    as test_template.py's code_needs traces the code (the stores' delete_item calls it reaches,
    Powertools' idempotency records)."""
    return frozenset(
        (name, f"${{{label}.Arn}}")
        for name in functions(EXPANDED)
        for label, actions in code_needs(name).items()
        if "dynamodb:DeleteItem" in actions
    )


def item_deletions(template: Doc) -> list[str]:
    """dynamodb:DeleteItem held by a role whose function's code deletes nothing there (a
    schedule's role: nothing at all), or missing where the code deletes."""
    found = []
    deletes = code_deletes()
    owners = {role: name for name, role in functions(template).items()}
    for role in resources(template, "AWS::IAM::Role"):
        name = owners.get(role, role)
        held = {r for a, r in role_grants(template, role) if a == "dynamodb:DeleteItem"}
        wanted = {r for f, r in deletes if f == name}
        found += [f"{name}: dynamodb:DeleteItem on {r}" for r in sorted(held - wanted)]
        found += [f"{name}: no dynamodb:DeleteItem on {r}" for r in sorted(wanted - held)]
    return found


def other_identities(template: Doc) -> list[str]:
    """Users, groups, access keys: nothing but roles holds permissions here."""
    kinds = {"AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::AccessKey", "AWS::IAM::UserPolicy"}
    return [f"{n}: {r['Type']}" for n, r in resources(template).items() if r["Type"] in kinds]


RESOURCE_POLICIES = {
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
    "AWS::Events::EventBusPolicy": "Statement",
}


def resource_policies(template: Doc) -> list[str]:
    """Allow statements of resource policies: no `*` principal, no `*` action but the allowed
    ones for their principal."""
    found = []
    for kind, key in RESOURCE_POLICIES.items():
        for name, resource in resources(template, kind).items():
            document = resource["Properties"].get(key) or {}
            document = document if "Statement" in document else {"Statement": document}
            for statement in statements(document):
                if statement.get("Effect") != "Allow":
                    continue  # a Deny only narrows
                principals = rendered(template, list(_principals(statement.get("Principal"))))
                if "*" in principals or "NotPrincipal" in statement:
                    found.append(f"{name}: allows every principal")
                for action in as_list(statement.get("Action") or []):
                    allowed = RESOURCE_POLICY_WILDCARDS.get(action, set())
                    if "*" in action and not allowed.issuperset(principals):
                        found.append(f"{name}: {action} to {principals}")
    return found


def _principals(principal: Any) -> Iterator[Any]:
    if isinstance(principal, dict) and not target(principal) and "Fn::Sub" not in principal:
        for value in principal.values():
            yield from as_list(value)
    elif principal is not None:
        yield principal


CHECKS = [
    wildcard_actions,
    wildcard_resources,
    managed_policies,
    roles_of_their_own,
    own_log_groups,
    consumers_own_queue_only,
    queues_consumed_by_their_consumer_only,
    named_indexes,
    item_deletions,
    other_identities,
    resource_policies,
]

# ----------------------------------------------------------------------------- template.yaml


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_expanded_template_passes(check: Any) -> None:
    assert check(EXPANDED) == []


def test_the_expansion_holds_what_the_checks_read() -> None:
    """So that a check cannot pass on nothing: the eight functions with their roles, the three
    SQS consumers, SAM's schedule roles, both resource policies."""
    assert len(functions(EXPANDED)) == 8
    assert sqs_consumers(EXPANDED) == {
        "RetryWorkerFunction": "RetryQueue",
        "DigestSenderFunction": "DigestQueue",
        "CardNoticeSenderFunction": "CardNoticeQueue",
    }
    roles = set(resources(EXPANDED, "AWS::IAM::Role"))
    assert set(functions(EXPANDED).values()) < roles  # and the schedules' (SAM's)
    assert len(roles) == 8 + 3
    assert set(resources(EXPANDED, "AWS::IAM::ManagedPolicy")) == TEMPLATE_MANAGED_POLICIES
    assert sum(1 for _ in documents(EXPANDED)) >= 8 + 8 + 3
    for kind in ("AWS::S3::BucketPolicy", "AWS::KMS::Key"):
        assert resources(EXPANDED, kind)


def wildcard_grants(template: Doc) -> set[tuple[str, str, str | None]]:
    """(wildcard resource, action, the allow-list's condition key if the statement carries it)
    of every Allow on a resource with a `*`."""
    keys = {k for k in WILDCARD_RESOURCE_ACTIONS.values() if k}
    keys |= {k for _, k in WILDCARD_RESOURCES.values() if k}
    found = set()
    for _, document in documents(template):
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            condition = json.dumps(statement.get("Condition") or {})
            carried = [k for k in keys if f'"{k}"' in condition] or [None]
            for resource in rendered(template, statement.get("Resource")):
                if "*" in resource:
                    for action in as_list(statement.get("Action") or []):
                        found |= {(resource, action, key) for key in carried}
    return found


def test_every_wildcard_in_the_allow_lists_is_still_needed() -> None:
    """An allow-list entry nothing uses any more is a door left open for the next grant: every
    action of every entry, conditioned or not, is granted as the entry allows it (with its
    condition key when it names one)."""
    used = wildcard_grants(EXPANDED)
    for action, key in WILDCARD_RESOURCE_ACTIONS.items():
        assert ("*", action, key) in used, action
    for resource, (actions, key) in WILDCARD_RESOURCES.items():
        for action in actions:
            assert (resource, action, key) in used, (resource, action)


def test_the_functions_that_delete_items_are_the_outbox_cleanup_and_the_idempotency_records() -> (
    None
):
    """What code_deletes finds: the outbox events deleted once published (app/outbox.py calls the
    store's `published`: the API, the webhooks, the retry worker and the watchdog) and the API's
    idempotency records, which Powertools deletes when the call they guard fails."""
    outbox_cleanup = {"ApiFunction", "WebhooksFunction", "RetryWorkerFunction"}
    outbox_cleanup |= {"RetryWatchdogFunction"}
    assert code_deletes() == {(name, "${Table.Arn}") for name in outbox_cleanup} | {
        ("ApiFunction", "${IdempotencyTable.Arn}")
    }


# ----------------------------------------------------------------------------- the checks fail


def found_after(change: Any, *checks: Any) -> list[str]:
    """What the checks find on template.yaml changed by `change(resources)` (on a copy) that
    they do not find on template.yaml itself."""
    template = copy.deepcopy(load())
    change(template["Resources"])
    changed = expand(template)
    return [v for check in checks for v in check(changed) if v not in check(EXPANDED)]


def access(resources_: Doc, role: str) -> list[Doc]:
    """The statements of a role's inline policy, to change."""
    statements_: list[Doc] = resources_[role]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    return statements_


def test_sams_default_role_for_a_consumer_is_refused() -> None:
    def sams_default_role(resources_: Doc) -> None:
        """The retry worker back on the role SAM generates (under the same logical id, so that
        its logs policy attaches to SAM's role)."""
        del resources_["RetryWorkerFunction"]["Properties"]["Role"]
        del resources_["RetryWorkerFunctionRole"]

    managed = "RetryWorkerFunctionRole: managed policy arn:aws:iam::aws:policy/"
    assert found_after(sams_default_role, managed_policies, consumers_own_queue_only) == [
        f"{managed}service-role/AWSLambdaBasicExecutionRole",
        f"{managed}AWSXrayWriteOnlyAccess",
        f"{managed}service-role/AWSLambdaSQSQueueExecutionRole",
        "RetryWorkerFunction: [] on its queue RetryQueue",
    ]


def test_a_service_wildcard_or_a_pattern_action_is_refused() -> None:
    def wildcards(resources_: Doc) -> None:
        access(resources_, "RetryWorkerFunctionRole")[0]["Action"].append("sqs:*")
        access(resources_, "ApiFunctionRole")[0]["Action"] = "dynamodb:Get*"

    assert found_after(wildcards, wildcard_actions) == [
        "ApiFunctionRole: action dynamodb:Get*",
        "RetryWorkerFunctionRole: action sqs:*",
    ]


def test_every_resource_or_every_index_is_refused() -> None:
    def wide(resources_: Doc) -> None:
        access(resources_, "WebhooksFunctionRole")[0]["Resource"] = "*"
        access(resources_, "ApiFunctionRole")[2]["Resource"] = {"Fn::Sub": "${Table.Arn}/index/*"}

    found = found_after(wide, wildcard_resources)
    assert [v.split(":")[0] for v in found] == ["ApiFunctionRole", "WebhooksFunctionRole"]


def test_an_action_off_the_allow_lists_on_a_wildcard_is_refused_condition_or_not() -> None:
    def metrics(resources_: Doc) -> None:
        statement = {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}
        namespace = {"StringEquals": {"cloudwatch:namespace": "PaymentActionCenter"}}
        access(resources_, "DailyDigestFunctionRole").append(statement)
        access(resources_, "RetryWorkerFunctionRole").append(statement | {"Condition": namespace})

    assert sorted(found_after(metrics, wildcard_resources)) == [
        "DailyDigestFunctionRole: ['cloudwatch:PutMetricData'] on *",
        "RetryWorkerFunctionRole: ['cloudwatch:PutMetricData'] on *",
    ]


def test_a_send_on_every_identity_without_the_from_address_or_raw_is_refused() -> None:
    def unconditioned(resources_: Doc) -> None:
        policy = resources_["SendEmailPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        raw = {k: v for k, v in policy.items() if k != "Sid"} | {"Action": "ses:SendRawEmail"}
        resources_["SendEmailPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(raw)
        del policy["Condition"]

    found = found_after(unconditioned, wildcard_resources)
    assert found == [
        f"SendEmailPolicy: ['ses:SendEmail'] on {SES_IDENTITIES}",
        f"SendEmailPolicy: ['ses:SendRawEmail'] on {SES_IDENTITIES}",
    ]


def test_a_consumer_reaching_another_queue_is_refused() -> None:
    def another(resources_: Doc) -> None:
        consume = access(resources_, "DigestSenderFunctionRole")[0]
        consume["Resource"] = [consume["Resource"], {"Fn::GetAtt": ["RetryQueue", "Arn"]}]

    found = found_after(another, consumers_own_queue_only, queues_consumed_by_their_consumer_only)
    assert found == [
        *(f"DigestSenderFunction: {a} on ${{RetryQueue.Arn}}" for a in sorted(CONSUME)),
        *(f"DigestSenderFunctionRole: {a} on ${{RetryQueue.Arn}}" for a in sorted(CONSUME)),
    ]


def test_a_log_group_of_another_function_or_an_unknown_index_is_refused() -> None:
    def elsewhere(resources_: Doc) -> None:
        logs = resources_["ApiLogsPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        logs["Resource"] = {"Fn::GetAtt": ["WebhooksLogGroup", "Arn"]}
        index = {"Fn::Sub": "${Table.Arn}/index/Everything"}
        access(resources_, "ApiFunctionRole")[2]["Resource"] = index

    assert found_after(elsewhere, own_log_groups, named_indexes) == [
        *(f"ApiFunction: {a} on ${{WebhooksLogGroup.Arn}}:*" for a in sorted(LOG_WRITES)),
        "ApiFunctionRole: dynamodb:Query on ${Table.Arn}/index/Everything",
    ]


def test_a_public_principal_in_a_resource_policy_is_refused() -> None:
    def public(resources_: Doc) -> None:
        policy = resources_["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]
        policy["Statement"][0]["Principal"] = "*"

    assert found_after(public, resource_policies) == ["ConsoleBucketPolicy: allows every principal"]


def test_a_delete_the_code_never_makes_is_refused_and_one_it_makes_required() -> None:
    def deletes(resources_: Doc) -> None:
        access(resources_, "DigestSenderFunctionRole")[1]["Action"].append("dynamodb:DeleteItem")
        table = {"Fn::GetAtt": ["Table", "Arn"]}
        statement = {"Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": table}
        access(resources_, "CardNoticeSenderFunctionRole").append(statement)
        access(resources_, "ApiFunctionRole")[0]["Action"].remove("dynamodb:DeleteItem")

    assert sorted(found_after(deletes, item_deletions)) == [
        "ApiFunction: no dynamodb:DeleteItem on ${Table.Arn}",
        "CardNoticeSenderFunction: dynamodb:DeleteItem on ${Table.Arn}",
        "DigestSenderFunction: dynamodb:DeleteItem on ${Table.Arn}",
    ]
