"""What every EntryStore must do: run against the in-memory fake (unit) and DynamoDB Local
(integration), so the fake cannot drift from the real thing."""

from typing import Any

import pytest

from payment_action_center.adapters.http import payment_webhook
from payment_action_center.app import results
from payment_action_center.domain.entries import EntryType, Method, Status
from payment_action_center.domain.errors import NotFound
from payment_action_center.domain.listing import EntryFilter, Position
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher


def record(store: Any, *, webhook_id: str | None = None, **overrides: Any) -> results.Result:
    body = factories.payment_failed(**overrides)
    return payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(webhook_id, of=body), body
    )


class StoreContract:
    """Subclasses provide a `store` fixture with an empty store."""

    def test_a_failure_becomes_an_open_entry_with_its_audit_event(self, store: Any) -> None:
        result = record(store, data__payment_id="pay_a")
        assert result.outcome is results.Outcome.ACCEPTED
        entry, audit = store.get_with_audit("org_demo", result.entry_id)
        assert entry.status is Status.FAILED
        assert entry.attempts == 1
        assert entry.failed_at == "2026-11-24T15:30:00.000000000Z"
        assert [event.action for event in audit] == ["received"]
        assert audit[0].actor.type == "system"

    def test_same_webhook_id_twice_has_one_effect(self, store: Any) -> None:
        first = record(store, webhook_id="msg_same", data__payment_id="pay_b")
        again = record(store, webhook_id="msg_same", data__payment_id="pay_b")
        assert first.outcome is again.outcome is results.Outcome.ACCEPTED
        assert len(store.list_open("org_demo", EntryFilter(), 50, None).entries) == 1

    def test_same_failure_under_a_new_webhook_id_makes_no_second_entry(self, store: Any) -> None:
        record(store, data__payment_id="pay_c")
        again = record(store, data__payment_id="pay_c")
        assert again.outcome is results.Outcome.IGNORED
        assert len(store.list_open("org_demo", EntryFilter(), 50, None).entries) == 1

    def test_another_organizations_entry_is_not_found(self, store: Any) -> None:
        result = record(store, data__organization_id="org_other")
        with pytest.raises(NotFound):
            store.get("org_demo", result.entry_id)
        with pytest.raises(NotFound):
            store.get_with_audit("org_demo", result.entry_id)
        assert store.list_open("org_demo", EntryFilter(), 50, None).entries == []

    def test_newest_failure_first_and_pages_end_with_no_cursor(self, store: Any) -> None:
        for day in range(1, 8):
            record(store, occurred_at=f"2026-11-{day:02d}T12:00:00Z")
        seen: list[str] = []
        after: Position | None = None
        pages = 0
        while True:
            page = store.list_open("org_demo", EntryFilter(), 3, after)
            pages += 1
            seen += [e.failed_at[:10] for e in page.entries]
            if page.next is None:
                break
            after = page.next
        assert seen == [f"2026-11-{day:02d}" for day in range(7, 0, -1)]
        assert pages == 3

    def test_a_full_last_page_says_it_is_the_last(self, store: Any) -> None:
        for day in range(1, 5):
            record(store, occurred_at=f"2026-11-{day:02d}T12:00:00Z")
        page = store.list_open("org_demo", EntryFilter(), 4, None)
        assert len(page.entries) == 4
        assert page.next is None

    def test_filters_select_exactly_the_matching_entries(self, store: Any) -> None:
        record(
            store,
            data__account_holder__name="François Côté",
            data__amount=500,
            data__invoice_items=[{"invoice_id": "i", "item_id": "a", "amount": 500}],
            occurred_at="2026-11-10T00:00:00Z",
        )
        record(
            store,
            data__method="echeck",
            data__kind="subscription",
            occurred_at="2026-11-11T00:00:00Z",
        )
        record(
            store,
            type="refund.failed",
            data__kind="refund",
            data__scheduled_payment_id=None,
            data__payment_id="pay_refund_77",
            occurred_at="2026-11-12T00:00:00Z",
        )

        def found(**where: Any) -> list[str]:
            page = store.list_open("org_demo", EntryFilter(**where), 50, None)
            return sorted(e.type.value + ":" + e.failed_at[:10] for e in page.entries)

        assert found(q="francois cote") == ["installment:2026-11-10"]
        assert found(q="COTÉ") == ["installment:2026-11-10"]
        assert found(q="refund_77") == ["credit_card_refund:2026-11-12"]
        assert found(method=Method.ECHECK) == ["subscription:2026-11-11"]
        assert found(type=EntryType.CREDIT_CARD_REFUND) == ["credit_card_refund:2026-11-12"]
        assert found(status=Status.RETRY_PENDING) == []
        assert found(max_amount=500) == ["installment:2026-11-10"]
        assert found(min_amount=501) == ["credit_card_refund:2026-11-12", "subscription:2026-11-11"]
        assert found(
            failed_from="2026-11-11T00:00:00.000000000Z", failed_to="2026-11-12T00:00:00.000000000Z"
        ) == ["credit_card_refund:2026-11-12", "subscription:2026-11-11"]
        assert found(failed_to="2026-11-10T00:00:00.000000000Z") == ["installment:2026-11-10"]

    def test_filtered_pages_chain_without_gaps(self, store: Any) -> None:
        for day in range(1, 13):
            record(
                store,
                data__method="echeck" if day % 3 else "credit_card",
                occurred_at=f"2026-11-{day:02d}T08:00:00Z",
            )
        days: list[str] = []
        after = None
        while True:
            page = store.list_open("org_demo", EntryFilter(method=Method.ECHECK), 3, after)
            days += [e.failed_at[8:10] for e in page.entries]
            if page.next is None:
                break
            after = page.next
        assert days == ["11", "10", "08", "07", "05", "04", "02", "01"]
