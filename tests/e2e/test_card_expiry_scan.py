"""Expiring cards end to end: a wallet card and a scheduled payment on it via the billing
webhooks, the daily scan fires in the month before the card expires, the notice is in the outbox
— once, with the card-update link (docs/contract.md §1, §4.3, §5)."""

import uuid

from tests.e2e.conftest import Api, PostWebhook
from tests.shared import factories


def test_the_card_notice_goes_out_once_with_the_update_link(
    api: Api, post_webhook: PostWebhook
) -> None:
    org = f"org_{uuid.uuid4().hex[:10]}"
    holder = f"ah_{org}"
    email = f"holder-{org}@example.com"
    stranger = f"stranger-{org}@example.com"
    settings = factories.organization_upserted(
        data__organization_id=org,
        data__time_zone="America/Toronto",
        data__locale="en-CA",
        data__card_update_url_template="https://platform.example/c/{account_holder_id}/cards",
    )
    assert post_webhook("billing", settings).status_code == 200
    for card_id, address, in_wallet in [
        (f"card_{org}", email, True),
        (f"card_x_{org}", stranger, False),  # not in the wallet: never notified
    ]:
        card = factories.card_upserted(
            data__organization_id=org,
            data__card_id=card_id,
            data__account_holder={"id": holder, "name": "Léa <i>Roy</i>", "email": address},
            data__exp_month=3,
            data__exp_year=2027,
            data__in_wallet=in_wallet,
            data__last4="4444",
        )
        assert post_webhook("billing", card).status_code == 200
        payment = factories.scheduled_payment_upserted(
            data__organization_id=org,
            data__scheduled_payment_id=f"sp_{card_id}",
            data__account_holder={"id": holder, "name": "Léa Roy", "email": address},
            data__payment_method={"token": "tok_success", "card_id": card_id},
            data__next_payment_at="2027-03-05T14:00:00Z",
        )
        assert post_webhook("billing", payment).status_code == 200

    def mine() -> list[dict]:
        return [m for m in api.outbox() if {email, stranger} & set(m["to"])]

    api.run_schedule("card-expiry-scan", now="2027-01-20T13:00:00Z")  # two months before
    assert mine() == []
    api.run_schedule("card-expiry-scan", now="2027-02-10T13:00:00Z")
    api.run_schedule("card-expiry-scan", now="2027-02-11T13:00:00Z")  # a rerun: still once
    (message,) = mine()
    assert message["to"] == [email]
    assert message["subject"] == "Your credit card expires soon"
    for part in (message["text"], message["html"]):
        assert "4444" in part and "03/2027" in part and "$75.00" in part
        assert f"https://platform.example/c/{holder}/cards" in part
    assert "&lt;i&gt;Roy&lt;/i&gt;" in message["html"] and "<i>Roy</i>" not in message["html"]
