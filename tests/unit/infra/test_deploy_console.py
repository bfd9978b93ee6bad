"""tools/deploy_console.py against moto: the stack's outputs name a real (moto) bucket and
distribution; console/ is uploaded typed and uncached, stale objects go, `/*` is invalidated."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tools import deploy_console
from tools.deploy_console import ConsoleDeployError, Stack, deploy, describe, target

ROOT = Path(__file__).resolve().parents[3]
STACK = "payment-action-center-dev"
# A stack moto can create: the outputs and parameters the deploy reads, as template.yaml names
# them, with the values of the moto bucket and distribution.
STACK_TEMPLATE = """
Parameters:
  Bucket: {Type: String}
  Distribution: {Type: String}
  JwtIssuer: {Type: String}
  JwtAudience: {Type: String}
Resources:
  Topic: {Type: AWS::SNS::Topic}
Outputs:
  ConsoleBucketName: {Value: !Ref Bucket}
  ConsoleDistributionId: {Value: !Ref Distribution}
  ApiUrl: {Value: "https://abc123.execute-api.ca-central-1.amazonaws.com/"}
"""
ISSUER = "https://cognito-idp.ca-central-1.amazonaws.com/ca-central-1_Pool"


@pytest.fixture
def deployed(aws: dict[str, str]) -> Iterator[dict[str, Any]]:
    """A console bucket holding a stale object, a distribution, a stack naming both."""
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket="pac-console", CreateBucketConfiguration={"LocationConstraint": "ca-central-1"}
    )
    s3.put_object(Bucket="pac-console", Key="old-module.js", Body=b"// gone")
    cloudfront = boto3.client("cloudfront")
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "pac-console",
            "Comment": "console",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "console",
                        "DomainName": "pac-console.s3.ca-central-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "console",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            },
        }
    )["Distribution"]["Id"]
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=STACK_TEMPLATE,
        Parameters=[
            {"ParameterKey": "Bucket", "ParameterValue": "pac-console"},
            {"ParameterKey": "Distribution", "ParameterValue": distribution},
            {"ParameterKey": "JwtIssuer", "ParameterValue": ISSUER},
            {"ParameterKey": "JwtAudience", "ParameterValue": "client-123"},
        ],
    )
    yield {"s3": s3, "cloudfront": cloudfront, "cloudformation": cloudformation, "id": distribution}


def console(tmp_path: Path) -> Path:
    root = tmp_path / "console"
    (root / "styles").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>pac</title>")
    (root / "app.js").write_text("export {};")
    (root / "styles/app.css").write_text("main {}")
    (root / "logo.svg").write_text("<svg/>")
    (root / ".hidden.js").write_text("never uploaded")
    return root


def run(deployed: dict[str, Any], root: Path) -> deploy_console.Deployed:
    return deploy(
        describe(deployed["cloudformation"], STACK), deployed["s3"], deployed["cloudfront"], root
    )


def test_the_stack_and_region_are_those_sam_deploy_uses() -> None:
    assert target("dev") == deploy_console.Target("payment-action-center-dev", "ca-central-1")
    assert target("prod") == deploy_console.Target("payment-action-center-prod", "ca-central-1")
    with pytest.raises(ConsoleDeployError):
        target("staging")


def test_every_file_is_uploaded_with_its_type_and_no_cache(deployed, tmp_path) -> None:
    done = run(deployed, console(tmp_path))

    assert sorted(done.uploaded) == [
        "app.js",
        "config.json",
        "index.html",
        "logo.svg",
        "styles/app.css",
    ]
    types = {
        "app.js": "text/javascript; charset=utf-8",
        "index.html": "text/html; charset=utf-8",
        "styles/app.css": "text/css; charset=utf-8",
        "logo.svg": "image/svg+xml",
    }
    for key, content_type in types.items():
        head = deployed["s3"].head_object(Bucket="pac-console", Key=key)
        assert head["ContentType"] == content_type, key
        assert head["CacheControl"] == "no-cache", key
    body = deployed["s3"].get_object(Bucket="pac-console", Key="app.js")["Body"].read()
    assert body == b"export {};"


def test_objects_no_longer_in_console_are_deleted(deployed, tmp_path) -> None:
    done = run(deployed, console(tmp_path))

    assert done.deleted == ["old-module.js"]
    listed = deployed["s3"].list_objects_v2(Bucket="pac-console")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(done.uploaded)


def test_the_whole_distribution_is_invalidated(deployed, tmp_path) -> None:
    done = run(deployed, console(tmp_path))

    invalidation = deployed["cloudfront"].get_invalidation(
        DistributionId=deployed["id"], Id=done.invalidation_id
    )["Invalidation"]
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == ["/*"]


def test_the_real_console_deploys(deployed) -> None:
    """console/ as it is: every file has a type the tool knows."""
    done = run(deployed, ROOT / "console")

    assert "payment-action-center.js" in done.uploaded


def test_a_file_of_unknown_type_stops_the_deploy_before_any_upload(deployed, tmp_path) -> None:
    root = console(tmp_path)
    (root / "notes.txt").write_text("?")

    with pytest.raises(ConsoleDeployError, match=r"notes\.txt"):
        run(deployed, root)
    listed = deployed["s3"].list_objects_v2(Bucket="pac-console")["Contents"]
    assert [o["Key"] for o in listed] == ["old-module.js"]


def test_a_stack_without_the_console_outputs_is_refused(deployed) -> None:
    with pytest.raises(ConsoleDeployError, match="ConsoleBucketName"):
        deploy(Stack({}, {}), deployed["s3"], deployed["cloudfront"])


def test_the_host_page_config_names_the_api_and_the_authorizers_issuer_and_audience(
    deployed, tmp_path
) -> None:
    run(deployed, console(tmp_path))

    stored = deployed["s3"].get_object(Bucket="pac-console", Key="config.json")
    assert stored["ContentType"] == "application/json"
    assert stored["CacheControl"] == "no-cache"
    assert json.loads(stored["Body"].read()) == {
        "api_base": "https://abc123.execute-api.ca-central-1.amazonaws.com",
        "issuer": ISSUER,
        "client_id": "client-123",
        "scope": "openid email",
    }


def test_a_config_json_in_console_is_refused_the_deploy_writes_it(deployed, tmp_path) -> None:
    root = console(tmp_path)
    (root / "config.json").write_text("{}")

    with pytest.raises(ConsoleDeployError, match=r"config\.json"):
        run(deployed, root)


def test_a_stack_without_the_authorizer_parameters_is_refused(deployed) -> None:
    outputs = {
        "ConsoleBucketName": "pac-console",
        "ConsoleDistributionId": deployed["id"],
        "ApiUrl": "https://abc123.execute-api.ca-central-1.amazonaws.com/",
    }
    with pytest.raises(ConsoleDeployError, match="JwtIssuer"):
        deploy(Stack(outputs, {}), deployed["s3"], deployed["cloudfront"])


def test_main_reads_samconfig_and_the_outputs(deployed, capsys) -> None:
    assert deploy_console.main(["--env", "dev"]) == 0
    assert "invalidation" in capsys.readouterr().out
