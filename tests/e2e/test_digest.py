"""The daily digest end to end: failures in, the hourly schedule fires, the digest is in the
outbox — once, in each recipient's language, with the right rows and links (docs/contract.md
§4.3, §5)."""

import uuid

from tests.e2e.conftest import Api, MintToken, PostWebhook
from tests.shared import factories


def test_the_digest_goes_out_once_at_seven_local_to_contact_and_admins(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = f"org_{uuid.uuid4().hex[:10]}"
    contact = f"billing-{org}@example.com"
    admin = f"admin-{org}@example.com"
    settings = factories.organization_upserted(
        data__organization_id=org,
        data__time_zone="America/Halifax",
        data__billing_contact_email=contact,
        data__console_url="https://console.example/pac",
    )
    assert post_webhook("billing", settings).status_code == 200
    jwt = token(org_id=org, email=admin, sub=f"user_{org}")
    opt_in = api.request(
        "PUT",
        "/me/notification-preferences",
        jwt,
        json={"failed_transactions_digest": True, "locale": "en-CA"},
    )
    assert opt_in.json() == {"failed_transactions_digest": True, "locale": "en-CA"}
    for at, name in [
        ("2026-11-24T11:00:00Z", "Too Old"),
        ("2026-11-25T02:00:00Z", "Zoé <b>Côté</b>"),
        ("2026-11-25T10:59:59Z", "Marc-André Roy"),
    ]:
        body = factories.payment_failed(
            data__organization_id=org,
            occurred_at=at,
            data__account_holder__name=name,
            data__account_holder__id=f"ah_{abs(hash(name)) % 1000}",
        )
        assert post_webhook("payments", body).status_code == 200

    def mine() -> list[dict]:
        return [m for m in api.outbox() if {contact, admin} & set(m["to"])]

    api.run_schedule("daily-digest", now="2026-11-25T10:00:00Z")  # 06:00 in Halifax
    assert mine() == []
    api.run_schedule("daily-digest", now="2026-11-25T11:00:00Z")  # 07:00 in Halifax
    api.run_schedule("daily-digest", now="2026-11-25T11:00:00Z")  # a rerun sends nobody twice
    messages = {m["to"][0]: m for m in mine()}
    assert sorted(messages) == sorted([contact, admin])
    assert messages[contact]["subject"] == "Notification importante — Échec de transaction"
    assert messages[admin]["subject"] == "Important notification — Transaction failure"
    html, text = messages[admin]["html"], messages[admin]["text"]
    assert "Zoé &lt;b&gt;Côté&lt;/b&gt;" in html and "<b>Côté</b>" not in html
    assert "Zoé <b>Côté</b>" in text
    assert "Marc-André Roy" in text and "Too Old" not in text
    assert "$125.00" in text
    assert "https://console.example/pac?account_holder_id=" in html
    assert "Manage my failed transactions" in html
