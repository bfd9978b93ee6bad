"""Integration tests: against DynamoDB Local (AWS's own engine), with the table as template.yaml
defines it. One DynamoDB Local for the session; each test starts with an empty table."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.dynamodb import DynamoDBLocal, client
from local.services import free_port
from tools.template import create_table, load

HERE = Path(__file__).resolve().parent
TABLE = "pac-integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    with DynamoDBLocal(free_port()) as service:
        create_table(client(service.endpoint), TABLE)
        yield service


@pytest.fixture
def dynamodb(dynamodb_local: DynamoDBLocal) -> tuple[Any, str]:
    """A DynamoDB client on DynamoDB Local and the name of the (emptied) table."""
    ddb = client(dynamodb_local.endpoint)
    empty(ddb, TABLE)
    return ddb, TABLE


def empty(ddb: Any, table: str) -> None:
    keys = [k["AttributeName"] for k in load()["Resources"]["Table"]["Properties"]["KeySchema"]]
    names = {f"#k{i}": key for i, key in enumerate(keys)}
    for page in ddb.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names
    ):
        items = page["Items"]
        for start in range(0, len(items), 25):
            requests = [{"DeleteRequest": {"Key": key}} for key in items[start : start + 25]]
            while requests:
                answer = ddb.batch_write_item(RequestItems={table: requests})
                requests = answer.get("UnprocessedItems", {}).get(table, [])
