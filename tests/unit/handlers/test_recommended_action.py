"""`recommended_action` on GET /transactions and GET /transactions/{id}, through the real handler
on moto (docs/contract.md §4.2; the rules are domain/declines.py's, tested in
tests/unit/domain/test_declines.py)."""

from types import ModuleType
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher
from tests.shared.lambdas import Context, answer, cold_start, http_event
from tests.shared.moto_aws import TABLE

ADMIN = {"sub": "u1", "email": "a@example.com", "org_id": "org_demo", "groups": "[billing_admin]"}


@pytest.fixture
def api(aws: dict[str, str]) -> ModuleType:
    return cold_start("api")


def recorded(body: dict[str, Any]) -> str:
    store = DynamoEntryStore(boto3.client("dynamodb"), TABLE)
    result = payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(), body
    )
    assert result.entry_id is not None
    return result.entry_id


def get_entry(api: ModuleType, entry_id: str) -> dict[str, Any]:
    event = http_event(
        "GET",
        f"/transactions/{entry_id}",
        route="/transactions/{id}",
        claims=ADMIN,
        path_parameters={"id": entry_id},
    )
    status, body = answer(api.lambda_handler(event, Context()))
    assert status == 200
    found: dict[str, Any] = body
    return found


@pytest.mark.parametrize(
    ("body", "wanted"),
    [
        (factories.payment_failed(), "retry_later"),  # card_declined on a card installment
        (
            factories.payment_failed(
                data__failure={"code": "expired_card", "message": "The card has expired."}
            ),
            "change_payment_method",
        ),
        (
            factories.payment_failed(
                data__method="echeck",
                data__failure={"code": "insufficient_funds", "message": "Returned: NSF."},
            ),
            "wait_for_payday",
        ),
        (factories.refund_failed(), "fund_merchant_account"),
        (
            factories.payment_failed(
                data__failure={"code": "Something_New", "message": "Ask the bank."}
            ),
            "review",
        ),
    ],
)
def test_an_entry_says_what_to_do_about_its_failure(
    api: ModuleType, body: dict[str, Any], wanted: str
) -> None:
    entry_id = recorded(body)
    assert get_entry(api, entry_id)["recommended_action"] == wanted


def test_the_table_and_the_detail_agree(api: ModuleType) -> None:
    entry_id = recorded(
        factories.payment_failed(
            data__failure={"code": "STOLEN_CARD", "message": "The card was reported stolen."}
        )
    )
    event = http_event("GET", "/transactions", claims=ADMIN)
    status, page = answer(api.lambda_handler(event, Context()))
    assert status == 200
    [item] = [item for item in page["items"] if item["id"] == entry_id]
    assert item["recommended_action"] == "change_payment_method"
    assert get_entry(api, entry_id)["recommended_action"] == "change_payment_method"
