"""Upload console/ to the stack's console bucket, then invalidate its distribution.

`make deploy ENV=<env>` runs it after `sam deploy`: the bucket and the distribution are resources
of template.yaml (ConsoleBucket, ConsoleDistribution), so they exist only once the stack does.
The stack name and region are the ones `sam deploy --config-env <env>` used (samconfig.toml); the
bucket and the distribution come from the stack's outputs ConsoleBucketName and
ConsoleDistributionId. Every regular file of console/ is uploaded with its type (a browser
refuses a module of another type: the distribution sends nosniff) and `Cache-Control: no-cache`
(a deploy shows at once), and with them `config.json`, which the standalone host page
(console/index.html, console/host.js) signs in with: the API's URL (output ApiUrl) and the JWT
authorizer's issuer and audience (the stack's parameters JwtIssuer and JwtAudience, so the page
and the authorizer cannot disagree). Objects no longer in console/ are deleted; then `/*` is
invalidated.

    python -m tools.deploy_console --env dev
"""

import argparse
import json
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from tools.console_files import CONTENT_TYPES, HOST_CONFIG_NAME, host_config

ROOT = Path(__file__).resolve().parents[1]
CONSOLE_DIR = ROOT / "console"
SAMCONFIG = ROOT / "samconfig.toml"
CACHE_CONTROL = "no-cache"


class ConsoleDeployError(Exception):
    """The console cannot be deployed: a missing stack output, a file of an unknown type."""


@dataclass(frozen=True)
class Target:
    stack_name: str
    region: str


@dataclass(frozen=True)
class Stack:
    outputs: Mapping[str, str]
    parameters: Mapping[str, str]


@dataclass(frozen=True)
class Deployed:
    uploaded: list[str]
    deleted: list[str]
    invalidation_id: str


def target(environment: str, samconfig: Path = SAMCONFIG) -> Target:
    """The stack and region `sam deploy --config-env <environment>` deploys to."""
    with samconfig.open("rb") as stream:
        config = tomllib.load(stream)
    try:
        parameters = config[environment]["deploy"]["parameters"]
        return Target(parameters["stack_name"], parameters["region"])
    except KeyError as missing:
        raise ConsoleDeployError(
            f"samconfig.toml has no stack_name/region for [{environment}.deploy.parameters]"
        ) from missing


def describe(cloudformation: Any, stack_name: str) -> Stack:
    [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return Stack(
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
    )


def stack_host_config(stack: Stack) -> dict[str, str]:
    """config.json of the host page, from the stack's output and parameters."""
    try:
        return host_config(
            stack.outputs["ApiUrl"], stack.parameters["JwtIssuer"], stack.parameters["JwtAudience"]
        )
    except KeyError as missing:
        raise ConsoleDeployError(f"the stack has no {missing}: deploy it first") from None


def console_files(root: Path = CONSOLE_DIR) -> dict[str, Path]:
    """Object key -> file, for every regular file below `root` (hidden files and symlinks left
    out, as local/static.py never serves them). An unknown extension stops the deploy rather
    than uploading a file the browser would refuse."""
    files: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or path.is_symlink():
            continue
        if not path.is_file():
            continue
        if path.suffix.lower() not in CONTENT_TYPES:
            raise ConsoleDeployError(f"console/{relative.as_posix()}: no content type for it")
        if relative.as_posix() == HOST_CONFIG_NAME:
            raise ConsoleDeployError(
                f"console/{HOST_CONFIG_NAME}: the deploy writes it from the stack"
            )
        files[relative.as_posix()] = path
    return files


def existing_keys(s3: Any, bucket: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        yield from (item["Key"] for item in page.get("Contents", []))


def deploy(stack: Stack, s3: Any, cloudfront: Any, root: Path = CONSOLE_DIR) -> Deployed:
    """Upload, delete the stale objects, invalidate: in that order, so that no request sees a
    page whose modules are gone."""
    try:
        bucket = stack.outputs["ConsoleBucketName"]
        distribution = stack.outputs["ConsoleDistributionId"]
    except KeyError as missing:
        raise ConsoleDeployError(f"the stack has no output {missing}: deploy it first") from None
    config = json.dumps(stack_host_config(stack), indent=2).encode()
    files = console_files(root)
    for key, path in files.items():
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=CONTENT_TYPES[path.suffix.lower()],
            CacheControl=CACHE_CONTROL,
        )
    s3.put_object(
        Bucket=bucket,
        Key=HOST_CONFIG_NAME,
        Body=config,
        ContentType=CONTENT_TYPES[".json"],
        CacheControl=CACHE_CONTROL,
    )
    stale = sorted(set(existing_keys(s3, bucket)) - {*files, HOST_CONFIG_NAME})
    for start in range(0, len(stale), 1000):  # delete_objects takes 1000 keys at most
        batch = [{"Key": key} for key in stale[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    invalidation = cloudfront.create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"deploy-console-{time.time_ns()}",
        },
    )
    return Deployed([*files, HOST_CONFIG_NAME], stale, invalidation["Invalidation"]["Id"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="a deploy section of samconfig.toml")
    arguments = parser.parse_args(argv)
    try:
        where = target(arguments.env)
        session = boto3.session.Session(region_name=where.region)
        stack = describe(session.client("cloudformation"), where.stack_name)
        # CloudFront is global: boto3 sends its calls to the global endpoint whatever the region.
        done = deploy(stack, session.client("s3"), session.client("cloudfront"))
    except ConsoleDeployError as error:
        print(f"deploy_console: {error}", file=sys.stderr)
        return 1
    print(
        f"console: {len(done.uploaded)} file(s) uploaded, {len(done.deleted)} deleted, "
        f"invalidation {done.invalidation_id} of /* created ({stack.outputs.get('ConsoleUrl', '')})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
