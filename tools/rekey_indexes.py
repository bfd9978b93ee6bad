"""Move a table's FailuresByDay and CardsByExpiry entries to the sharded partition keys
(`python -m tools.rekey_indexes --table <name>`, docs/deploy.md §11).

Items written before the two indexes were sharded carry `FAILDAY#<UTC date>` and
`EXPIRY#<YYYY-MM>`; the readers now query `…#<shard>` (payment_action_center/adapters/
dynamodb/keys.py), so those items would be missed: the digest's organizations for the failures
of the last two days, and each qualifying card until a webhook rewrites it. This rewrites each
such key in place, with the shard of the item's organization, under a condition that the old key
is still there (a writer that changed the item meanwhile wrote the new form; it is left alone).
Safe to run again: a table with nothing to move is read once and left as it is.
"""

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from payment_action_center.adapters.dynamodb import keys

# The unsharded forms: FAILDAY#2026-11-24 (18 characters), EXPIRY#2026-12 (14).
UNSHARDED = (
    (keys.FAILDAY_PK, keys.FAILDAY_SK, keys.FAILDAY_SHARDS, len("FAILDAY#2026-11-24")),
    (keys.EXPIRY_PK, keys.EXPIRY_SK, keys.EXPIRY_SHARDS, len("EXPIRY#2026-12")),
)


@dataclass
class Moved:
    rewritten: int = 0
    changed_meanwhile: int = 0


def unsharded_items(client: Any, table: str) -> Iterator[dict[str, Any]]:
    """The items whose FailuresByDay or CardsByExpiry partition key has no shard: one Scan."""
    condition = " OR ".join(f"size(#{pk}) = :{pk}" for pk, _, _, _ in UNSHARDED)
    names = {f"#{pk}": pk for pk, _, _, _ in UNSHARDED} | {
        f"#{sk}": sk for _, sk, _, _ in UNSHARDED
    }
    for page in client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression=condition,
        ProjectionExpression=", ".join(["#pk", "#sk", *names]),
        ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK, **names},
        ExpressionAttributeValues={f":{pk}": {"N": str(n)} for pk, _, _, n in UNSHARDED},
    ):
        yield from page["Items"]


def rekey(client: Any, table: str) -> Moved:
    moved = Moved()
    for item in unsharded_items(client, table):
        for pk, sk, shards, length in UNSHARDED:
            old = item.get(pk, {}).get("S")
            if old is None or len(old) != length:
                continue
            organization_id = keys.organization_in(item[sk]["S"])
            try:
                client.update_item(
                    TableName=table,
                    Key={keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
                    UpdateExpression="SET #key = :new",
                    ConditionExpression="#key = :old",
                    ExpressionAttributeNames={"#key": pk},
                    ExpressionAttributeValues={
                        ":old": {"S": old},
                        ":new": {"S": f"{old}#{keys.shard(organization_id, shards)}"},
                    },
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                moved.changed_meanwhile += 1
            else:
                moved.rewritten += 1
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="the stack's TableName output")
    parser.add_argument("--region", default=None)
    args = parser.parse_args()
    moved = rekey(boto3.client("dynamodb", region_name=args.region), args.table)
    print(f"{moved.rewritten} keys rewritten, {moved.changed_meanwhile} changed meanwhile")


if __name__ == "__main__":
    main()
