"""tools/rekey_indexes.py on DynamoDB Local: items written with the unsharded FailuresByDay and
CardsByExpiry keys are moved to their organization's shard and found again by the readers; a
second run moves nothing; an item a writer changed meanwhile is left as the writer left it."""

from typing import Any

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.digest_store import DynamoDigestStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from tests.shared import factories
from tests.shared.billing_contract import T1, link, upsert_card
from tests.shared.fakes import RecordingPublisher
from tools.rekey_indexes import rekey

ORGANIZATIONS = [f"org_old_{n:02d}" for n in range(6)]


def unshard(client: Any, table: str, attribute: str) -> list[tuple[str, str]]:
    """Every item's `attribute` written back without its shard, as the old code wrote it."""
    found = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if attribute in item:
                old = item[attribute]["S"].rsplit("#", 1)[0]
                client.update_item(
                    TableName=table,
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    UpdateExpression="SET #a = :old",
                    ExpressionAttributeNames={"#a": attribute},
                    ExpressionAttributeValues={":old": {"S": old}},
                )
                found.append((item["pk"]["S"], item["sk"]["S"]))
    return found


def test_old_keys_move_to_their_shards_and_are_read_again(dynamodb: tuple[Any, str]) -> None:
    client, table = dynamodb
    entries, billing = DynamoEntryStore(client, table), DynamoBillingStore(client, table)
    digests = DynamoDigestStore(client, table)
    for n, organization in enumerate(ORGANIZATIONS):
        body = factories.payment_failed(
            data__organization_id=organization,
            occurred_at="2026-11-24T10:00:00Z",
            data__payment_id=f"pay_old_{n}",
        )
        payment_webhook.handle_payment_event(
            entries, RecordingPublisher(), factories.delivery(webhook_id=f"msg_old_{n}"), body
        )
        upsert_card(billing, f"card_old_{n}", T1, data__organization_id=organization)
        link(billing, f"sp_old_{n}", f"card_old_{n}", T1, data__organization_id=organization)
    failures = unshard(client, table, keys.FAILDAY_PK)
    cards = unshard(client, table, keys.EXPIRY_PK)
    assert len(failures) == len(cards) == len(ORGANIZATIONS)
    assert digests.organizations_with_failures("2026-11-24") == []  # what the readers miss
    assert billing.organizations_expiring("2026-12") == []

    moved = rekey(client, table)
    assert (moved.rewritten, moved.changed_meanwhile) == (2 * len(ORGANIZATIONS), 0)
    assert sorted(digests.organizations_with_failures("2026-11-24")) == ORGANIZATIONS
    assert sorted(billing.organizations_expiring("2026-12")) == ORGANIZATIONS
    for organization in ORGANIZATIONS:
        assert len(billing.expiring(organization, "2026-12", 10, None).items) == 1
    item = client.get_item(
        TableName=table, Key={"pk": {"S": cards[0][0]}, "sk": {"S": cards[0][1]}}
    )
    organization = cards[0][0].removeprefix("ORG#")
    shard = keys.shard(organization, keys.EXPIRY_SHARDS)
    assert item["Item"][keys.EXPIRY_PK]["S"] == f"EXPIRY#2026-12#{shard}"

    again = rekey(client, table)
    assert (again.rewritten, again.changed_meanwhile) == (0, 0)


def test_an_item_changed_meanwhile_is_left_as_its_writer_left_it(
    dynamodb: tuple[Any, str], monkeypatch: Any
) -> None:
    client, table = dynamodb
    billing = DynamoBillingStore(client, table)
    upsert_card(billing, "card_race", T1, data__organization_id="org_race")
    link(billing, "sp_race", "card_race", T1, data__organization_id="org_race")
    [(pk, sk)] = unshard(client, table, keys.EXPIRY_PK)
    rewritten = f"EXPIRY#2026-12#{keys.shard('org_race', keys.EXPIRY_SHARDS)}"
    real_update = client.update_item

    def writer_first(**request: Any) -> Any:
        # A webhook rewrites the card between the scan and the update.
        real_update(
            TableName=table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression="SET expiry_pk = :new",
            ExpressionAttributeValues={":new": {"S": rewritten}},
        )
        return real_update(**request)

    monkeypatch.setattr(client, "update_item", writer_first)
    moved = rekey(client, table)
    assert (moved.rewritten, moved.changed_meanwhile) == (0, 1)
    monkeypatch.undo()
    item = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    assert item[keys.EXPIRY_PK]["S"] == rewritten
