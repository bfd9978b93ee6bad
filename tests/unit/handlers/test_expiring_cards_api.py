"""GET /expiring-cards through the real handler on moto (docs/contract.md §4.2)."""

from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.http import billing_webhook
from payment_action_center.domain.listing import encode_opaque
from tests.shared import factories
from tests.shared.lambdas import Context, answer, cold_start, http_event
from tests.shared.moto_aws import TABLE

ADMIN = {"sub": "u1", "email": "a@example.com", "org_id": "org_demo", "groups": "[billing_admin]"}


@pytest.fixture
def api(aws: dict[str, str]) -> ModuleType:
    return cold_start("api")


def next_month() -> tuple[int, int]:
    local = datetime.now(UTC).astimezone(ZoneInfo("America/Toronto"))
    return (1, local.year + 1) if local.month == 12 else (local.month + 1, local.year)


def apply(body: dict[str, Any]) -> None:
    store = DynamoBillingStore(boto3.client("dynamodb"), TABLE)
    assert (
        billing_webhook.handle_billing_event(store, factories.billing_delivery(), body).outcome
        == "accepted"
    )


def linked_card(
    card_id: str, month: int, year: int, *, in_wallet: bool = True, org: str = "org_demo"
) -> None:
    apply(
        factories.card_upserted(
            data__organization_id=org,
            data__card_id=card_id,
            data__exp_month=month,
            data__exp_year=year,
            data__in_wallet=in_wallet,
        )
    )
    apply(
        factories.scheduled_payment_upserted(
            data__organization_id=org,
            data__scheduled_payment_id=f"sp_{card_id}",
            data__payment_method={"token": f"tok_{card_id}", "card_id": card_id},
        )
    )


def get(api: ModuleType, query: dict[str, str] | None = None) -> tuple[int, Any]:
    event = http_event("GET", "/expiring-cards", query=query, claims=ADMIN)
    return answer(api.lambda_handler(event, Context()))


def test_the_section_lists_wallet_cards_with_scheduled_payments_expiring_next_month(
    api: ModuleType,
) -> None:
    apply(factories.organization_upserted())
    month, year = next_month()
    linked_card("card_a", month, year)
    linked_card("card_b", month, year)
    linked_card("card_not_wallet", month, year, in_wallet=False)
    linked_card("card_later", month, year + 1)
    linked_card("card_other_org", month, year, org="org_other")
    status, body = get(api, {"limit": "1"})
    assert status == 200
    [first] = body["items"]
    assert first["card_id"] == "card_a"
    assert first["scheduled_payments"][0]["scheduled_payment_id"] == "sp_card_a"
    assert set(first) == {
        "card_id",
        "account_holder",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "scheduled_payments",
    }
    status, second = get(api, {"limit": "1", "cursor": body["next_cursor"]})
    assert [c["card_id"] for c in second["items"]] == ["card_b"]
    assert second["next_cursor"] is None


def test_a_cursor_not_issued_is_400_and_limits_are_checked(api: ModuleType) -> None:
    assert get(api, {"cursor": "bm9wZQ"})[0] == 400
    assert get(api, {"limit": "0"})[0] == 422


def test_a_cursor_naming_another_organizations_card_is_400(api: ModuleType) -> None:
    """Cursors are not signed: one made with the caller's own fingerprint but another
    organization's card was never issued (DynamoDB would refuse the start key: a 500)."""
    apply(factories.organization_upserted())
    month, year = next_month()
    linked_card("card_a", month, year)
    forged = encode_opaque(f"org_demo#{year:04d}-{month:02d}", "org_other", "card_a")
    status, body = get(api, {"cursor": forged})
    assert (status, body["code"]) == (400, "invalid_cursor")


@pytest.mark.parametrize("card_id", ["\ud800", "card a", "", "c" * 129])
def test_a_cursor_naming_a_card_id_no_webhook_gives_is_400(api: ModuleType, card_id: str) -> None:
    """A forged cursor with the caller's own fingerprint and organization, but a card id the
    billing webhook never accepts (a lone surrogate cannot even be sent to DynamoDB)."""
    apply(factories.organization_upserted())
    month, year = next_month()
    forged = encode_opaque(f"org_demo#{year:04d}-{month:02d}", "org_demo", card_id)
    status, body = get(api, {"cursor": forged})
    assert (status, body["code"]) == (400, "invalid_cursor")
