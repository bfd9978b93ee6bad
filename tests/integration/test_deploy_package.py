"""`sam deploy --config-env dev`, as `make deploy` runs it, ships the BUILT code: run against a
moto server (fake credentials, no AWS account), it uploads a layer that holds its dependencies.

`make integration` and `make test` run `make build` first; this test reads build/sam.
"""

import io
import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local.services import free_port

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-tools" / "bin" / "sam"
BUILT_TEMPLATE = ROOT / "build" / "sam" / "template.yaml"
BUCKET = "pac-deploy-check"
REGION = "ca-central-1"


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def uploaded(aws_endpoint: str) -> dict[str, bytes]:
    """What `sam deploy --config-env dev` put in the deployment bucket, by key."""
    assert BUILT_TEMPLATE.exists(), "run `make build` first (make integration does)"
    storage = s3(aws_endpoint)
    storage.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": aws_endpoint,
        "SAM_CLI_TELEMETRY": "0",
    }
    # The change set itself is moto's to refuse; the upload before it is what is checked here.
    subprocess.run(
        [
            *(str(SAM), "deploy", "--config-env", "dev", "--no-execute-changeset"),
            *("--s3-bucket", BUCKET, "--no-resolve-s3"),
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        timeout=600,
        check=False,
    )
    objects = storage.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {
        o["Key"]: storage.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in objects
    }


def deployed_template(uploaded: dict[str, bytes]) -> dict[str, Any]:
    [template] = [body for key, body in uploaded.items() if key.endswith(".template")]
    return dict(json.loads(template)) if template.lstrip().startswith(b"{") else _yaml(template)


def _yaml(text: bytes) -> dict[str, Any]:
    import yaml

    from tools.template import CloudFormationLoader

    return dict(yaml.load(text, Loader=CloudFormationLoader))


def test_the_deployed_layer_holds_its_pinned_dependencies(uploaded):
    layer = deployed_template(uploaded)["Resources"]["CoreLayer"]["Properties"]
    key = layer["ContentUri"].split(f"s3://{BUCKET}/", 1)[1]

    with zipfile.ZipFile(io.BytesIO(uploaded[key])) as archive:
        names = archive.namelist()
    assert any(name.startswith("python/payment_action_center/") for name in names)
    for dependency in ("pydantic_core", "aws_lambda_powertools", "standardwebhooks", "jinja2"):
        assert any(name.startswith(f"python/{dependency}/") for name in names), dependency
    # Built for Lambda's arm64 whatever machine builds (layers/core/Makefile).
    assert any(n.endswith("-aarch64-linux-gnu.so") for n in names if "pydantic_core" in n)
    # Only the Babel locales the emails use (layers/core/prune_babel.py), and no tracing SDK.
    locales = {
        Path(n).stem
        for n in names
        if n.startswith("python/babel/locale-data/") and n.endswith(".dat")
    }
    assert locales == {"root", "en", "en_CA", "fr", "fr_CA"}
    assert not any(n.startswith(("python/aws_xray_sdk/", "python/wrapt/")) for n in names)
    assert not any("__pycache__" in n for n in names)


def test_the_deployed_functions_are_the_built_ones(uploaded):
    resources = deployed_template(uploaded)["Resources"]
    functions = {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }

    assert functions
    for name, properties in functions.items():
        key = properties["CodeUri"].split(f"s3://{BUCKET}/", 1)[1]
        with zipfile.ZipFile(io.BytesIO(uploaded[key])) as archive:
            assert "app.py" in archive.namelist(), name
