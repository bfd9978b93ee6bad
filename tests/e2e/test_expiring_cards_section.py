"""GET /expiring-cards over HTTP on the local stack: the section follows the billing webhooks at
once (docs/contract.md §4.2)."""

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.e2e.conftest import Api, MintToken, PostWebhook
from tests.shared import factories


def next_month() -> tuple[int, int]:
    local = datetime.now(UTC).astimezone(ZoneInfo("America/Toronto"))
    return (1, local.year + 1) if local.month == 12 else (local.month + 1, local.year)


def test_the_section_lists_the_card_and_drops_it_when_unlinked(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = f"org_{uuid.uuid4().hex[:10]}"
    jwt = token(org_id=org, groups=["reader"])
    settings = factories.organization_upserted(
        data__organization_id=org, data__time_zone="America/Toronto"
    )
    assert post_webhook("billing", settings).status_code == 200
    month, year = next_month()
    card = factories.card_upserted(
        data__organization_id=org,
        data__card_id="card_1",
        data__exp_month=month,
        data__exp_year=year,
    )
    assert post_webhook("billing", card).json() == {"status": "accepted"}
    assert api.get("/expiring-cards", jwt).json() == {"items": [], "next_cursor": None}
    linked = factories.scheduled_payment_upserted(
        data__organization_id=org,
        data__scheduled_payment_id="sp_1",
        occurred_at="2026-11-22T00:00:00Z",
        data__payment_method={"token": "tok_success", "card_id": "card_1"},
    )
    assert post_webhook("billing", linked).json() == {"status": "accepted"}
    [item] = api.get("/expiring-cards", jwt).json()["items"]
    assert (item["card_id"], item["exp_month"], item["exp_year"]) == ("card_1", month, year)
    assert [p["scheduled_payment_id"] for p in item["scheduled_payments"]] == ["sp_1"]
    ended = factories.scheduled_payment_ended(
        data__organization_id=org,
        data__scheduled_payment_id="sp_1",
        occurred_at="2026-11-23T00:00:00Z",
    )
    assert post_webhook("billing", ended).json() == {"status": "accepted"}
    assert api.get("/expiring-cards", jwt).json()["items"] == []
    assert api.get("/expiring-cards").status_code == 401
