"""The deploy path: `make deploy` ships the built template, and no stage that moves real money
can run the sandbox processor (template.yaml's Rules at deploy time, the settings at cold start)."""

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.shared.lambdas import cold_start
from tools.template import CloudFormationLoader

ROOT = Path(__file__).resolve().parents[3]
SAMCONFIG = ROOT / "samconfig.toml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    with (ROOT / "template.yaml").open() as stream:
        return dict(yaml.load(stream, Loader=CloudFormationLoader))


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    with SAMCONFIG.open("rb") as stream:
        return tomllib.load(stream)


# ----------------------------------------------------------------------------- the built template


def deploy_environments(samconfig: dict[str, Any]) -> list[str]:
    return [
        name
        for name, commands in samconfig.items()
        if isinstance(commands, dict) and "deploy" in commands
    ]


def test_every_deploy_environment_deploys_what_sam_build_writes(samconfig):
    build_dir = samconfig["default"]["build"]["parameters"]["build_dir"]

    assert deploy_environments(samconfig) == ["dev", "prod"]
    for environment in deploy_environments(samconfig):
        deploy = samconfig[environment]["deploy"]["parameters"]
        assert deploy["template_file"] == f"{build_dir}/template.yaml", environment


def dry_run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_make_deploy_builds_then_deploys_the_built_template(environment):
    lines = dry_run("deploy", f"ENV={environment}").stdout.splitlines()

    builds = [n for n, line in enumerate(lines) if " build" in line and "/sam " in line]
    deploys = [n for n, line in enumerate(lines) if "/sam deploy" in line]
    assert builds and len(deploys) == 1, lines
    assert builds[-1] < deploys[0]
    assert f"--config-env {environment}" in lines[deploys[0]]
    # `sam build` reads its build_dir from samconfig.toml, which is where deploy looks: no flag
    # on the command line may send either elsewhere.
    assert "--build-dir" not in lines[builds[-1]]
    assert "--template" not in lines[deploys[0]]


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_make_deploy_uploads_the_console_once_the_stack_is_deployed(environment):
    """The console's bucket and distribution are outputs of the stack: they exist after it."""
    lines = dry_run("deploy", f"ENV={environment}").stdout.splitlines()

    deploys = [n for n, line in enumerate(lines) if "/sam deploy" in line]
    uploads = [n for n, line in enumerate(lines) if "-m tools.deploy_console" in line]
    assert len(deploys) == 1 and len(uploads) == 1, lines
    assert deploys[0] < uploads[0]
    assert lines[uploads[0]].endswith(f"--env {environment}")


def test_make_deploy_refuses_an_unknown_environment():
    refused = dry_run("deploy", "ENV=staging")

    assert refused.returncode != 0
    assert "ENV must be dev or prod" in refused.stderr


# ----------------------------------------------------------------------------- the sandbox


def evaluate(expression: Any, parameters: dict[str, str]) -> Any:
    """The CloudFormation rule functions the template's Rules use, over parameter values."""
    if not isinstance(expression, dict):
        return expression
    [(function, argument)] = expression.items()
    match function:
        case "Ref":
            return parameters[argument]
        case "Fn::Equals":
            left, right = (evaluate(a, parameters) for a in argument)
            return left == right
        case "Fn::Not":
            return not evaluate(argument[0], parameters)
        case "Fn::And":
            return all(evaluate(a, parameters) for a in argument)
        case "Fn::Or":
            return any(evaluate(a, parameters) for a in argument)
        case "Fn::Contains":
            values, value = argument
            return evaluate(value, parameters) in [evaluate(v, parameters) for v in values]
    raise AssertionError(f"{function} is not a rule function this test knows")


def refusals(template: dict[str, Any], **parameters: str) -> list[str]:
    """The AssertDescriptions CloudFormation would stop the deploy with."""
    values = {name: p.get("Default") for name, p in template["Parameters"].items()} | parameters
    refused = []
    for rule in template.get("Rules", {}).values():
        if not evaluate(rule.get("RuleCondition", True), values):
            continue
        for assertion in rule["Assertions"]:
            if not evaluate(assertion["Assert"], values):
                refused.append(assertion["AssertDescription"])
    return refused


def test_the_template_refuses_the_sandbox_in_the_prod_stage(template):
    [refusal] = refusals(template, Stage="prod", Processor="sandbox")

    assert "charges nobody" in refusal


def test_the_template_lets_a_dev_stack_use_the_sandbox(template):
    assert refusals(template, Stage="dev", Processor="sandbox") == []


def test_the_rule_lets_prod_run_any_processor_but_the_sandbox(template):
    assert refusals(template, Stage="prod", Processor="a-production-processor") == []


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


@pytest.mark.parametrize(
    ("domain", "certificate", "accepted"),
    [
        ("", "", True),
        ("billing.example.com", CERTIFICATE, True),
        ("billing.example.com", "", False),
        ("", CERTIFICATE, False),
    ],
)
def test_the_console_domain_comes_with_its_certificate_or_not_at_all(
    template, domain, certificate, accepted
):
    """A host name without its certificate (or the reverse) would fail late, in CloudFront."""
    refused = refusals(
        template, Stage="dev", ConsoleDomainName=domain, ConsoleCertificateArn=certificate
    )
    if accepted:
        assert refused == []
    else:
        [refusal] = refused
        assert "go together" in refusal


def test_the_sandbox_is_the_default_so_prod_must_choose_its_processor(template):
    assert template["Parameters"]["Processor"]["Default"] == "sandbox"
    assert set(template["Parameters"]["Stage"]["AllowedValues"]) == {"dev", "prod"}


@pytest.mark.parametrize("function", ["retry_worker", "retry_watchdog"])
def test_a_function_that_charges_refuses_the_sandbox_in_prod_at_cold_start(
    aws, monkeypatch, function
):
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("PENDING_DEADLINE_CREDIT_CARD_MINUTES", "30")
    monkeypatch.setenv("PENDING_DEADLINE_ECHECK_HOURS", "120")

    with pytest.raises(RuntimeError, match="sandbox processor charges nobody"):
        cold_start(function)


@pytest.mark.parametrize("function", ["retry_worker", "retry_watchdog"])
def test_a_function_that_charges_runs_the_sandbox_in_dev(aws, monkeypatch, function):
    monkeypatch.setenv("PENDING_DEADLINE_CREDIT_CARD_MINUTES", "30")
    monkeypatch.setenv("PENDING_DEADLINE_ECHECK_HOURS", "120")

    assert cold_start(function).settings.processor == "sandbox"
