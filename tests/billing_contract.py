"""What every BillingStore must do: run against the in-memory fake (unit) and DynamoDB Local
(integration), so the fake cannot drift from the real thing."""

from typing import Any

from payment_action_center.billing import Organization, ScheduledPayment, handle_billing_event
from payment_action_center.intake import Outcome
from payment_action_center.model import AccountHolder, Method, PaymentKind, PaymentMethod
from tests import factories

ORG_AT = "2026-11-20T12:00:00.000000000Z"


def send(store: Any, body: dict[str, Any], webhook_id: str | None = None) -> Outcome:
    return handle_billing_event(store, factories.billing_delivery(webhook_id), body).outcome


def upsert_payment(store: Any, payment_id: str, occurred_at: str, **overrides: Any) -> Outcome:
    body = factories.scheduled_payment_upserted(
        occurred_at=occurred_at, data__scheduled_payment_id=payment_id, **overrides
    )
    return send(store, body)


def end_payment(store: Any, payment_id: str, occurred_at: str) -> Outcome:
    body = factories.scheduled_payment_ended(
        occurred_at=occurred_at, data__scheduled_payment_id=payment_id
    )
    return send(store, body)


class BillingStoreContract:
    """Subclasses provide a `store` fixture with an empty store."""

    def test_an_organization_reads_back_as_sent(self, store: Any) -> None:
        assert send(store, factories.organization_upserted()) is Outcome.ACCEPTED
        platform = "https://plateforme.example/centre-demo"
        assert store.organization("org_demo") == Organization(
            id="org_demo",
            name="Centre récréatif Démo",
            billing_contact_email="facturation@centre-demo.example",
            locale="fr-CA",
            time_zone="America/Toronto",
            console_url=f"{platform}/centre-actions-paiement",
            upcoming_payments_url_template=f"{platform}/clients/{{account_holder_id}}/paiements-a-venir",
            client_url_template=f"{platform}/clients/{{account_holder_id}}",
            card_update_url_template=f"{platform}/clients/{{account_holder_id}}/cartes",
            state_at=ORG_AT,
        )

    def test_a_scheduled_payment_reads_back_active(self, store: Any) -> None:
        body = factories.scheduled_payment_upserted(
            data__scheduled_payment_id="sp_read",
            data__kind="subscription",
            data__method="echeck",
            data__account_holder={"id": "ah_7", "name": "Zoé Lévesque", "email": "zoe@example.com"},
            data__payment_method={"token": "tok_echeck_pending"},
            data__next_payment_at="2026-12-01T09:00:00.5-05:00",
        )
        assert send(store, body) is Outcome.ACCEPTED
        assert store.scheduled_payment("org_demo", "sp_read") == ScheduledPayment(
            organization_id="org_demo",
            id="sp_read",
            kind=PaymentKind.SUBSCRIPTION,
            account_holder=AccountHolder("ah_7", "Zoé Lévesque", "zoe@example.com"),
            payment_method=PaymentMethod("tok_echeck_pending"),
            method=Method.ECHECK,
            next_payment_at="2026-12-01T14:00:00.500000000Z",
            amount=7500,
            currency="CAD",
            active=True,
            state_at=ORG_AT,
        )

    def test_nothing_known_reads_as_none(self, store: Any) -> None:
        upsert_payment(store, "sp_other_org", ORG_AT, data__organization_id="org_other")
        assert store.organization("org_demo") is None
        assert store.scheduled_payment("org_demo", "sp_other_org") is None
        assert store.scheduled_payment("org_other", "sp_other_org") is not None

    def test_an_older_organization_event_after_a_newer_one_changes_nothing(
        self, store: Any
    ) -> None:
        newer = factories.organization_upserted(
            occurred_at="2026-11-22T10:00:00Z", data__name="Nouveau nom"
        )
        older = factories.organization_upserted(
            occurred_at="2026-11-21T10:00:00Z", data__name="Ancien nom"
        )
        assert send(store, newer) is Outcome.ACCEPTED
        assert send(store, older) is Outcome.IGNORED
        organization = store.organization("org_demo")
        assert organization.name == "Nouveau nom"
        assert organization.state_at == "2026-11-22T10:00:00.000000000Z"

    def test_a_newer_organization_event_replaces_the_older(self, store: Any) -> None:
        send(store, factories.organization_upserted(data__locale="fr-CA"))
        later = factories.organization_upserted(
            occurred_at="2026-11-20T12:00:01Z", data__locale="en-CA"
        )
        assert send(store, later) is Outcome.ACCEPTED
        assert store.organization("org_demo").locale == "en-CA"

    def test_an_event_with_an_equal_occurred_at_applies(self, store: Any) -> None:
        send(store, factories.organization_upserted(data__name="Premier"))
        # The same instant written another way: equal, so it applies.
        same = factories.organization_upserted(
            occurred_at="2026-11-20T07:00:00.000-05:00", data__name="Second"
        )
        assert send(store, same) is Outcome.ACCEPTED
        assert store.organization("org_demo").name == "Second"

    def test_occurred_at_is_compared_at_full_precision(self, store: Any) -> None:
        later = "2026-11-20T12:00:00.000000002Z"
        earlier = "2026-11-20T12:00:00.000000001Z"
        assert upsert_payment(store, "sp_ns", later, data__amount=200) is Outcome.ACCEPTED
        assert upsert_payment(store, "sp_ns", earlier, data__amount=100) is Outcome.IGNORED
        payment = store.scheduled_payment("org_demo", "sp_ns")
        assert (payment.amount, payment.state_at) == (200, later)

    def test_an_older_scheduled_payment_upsert_after_a_newer_one_changes_nothing(
        self, store: Any
    ) -> None:
        upsert_payment(store, "sp_order", "2026-11-22T00:00:00Z", data__amount=9000)
        assert (
            upsert_payment(store, "sp_order", "2026-11-21T00:00:00Z", data__amount=1000)
            is Outcome.IGNORED
        )
        assert store.scheduled_payment("org_demo", "sp_order").amount == 9000

    def test_ended_keeps_the_data_and_marks_the_payment_inactive(self, store: Any) -> None:
        upsert_payment(store, "sp_end", "2026-11-20T00:00:00Z")
        before = store.scheduled_payment("org_demo", "sp_end")
        assert end_payment(store, "sp_end", "2026-11-21T00:00:00Z") is Outcome.ACCEPTED
        after = store.scheduled_payment("org_demo", "sp_end")
        assert after.active is False
        assert after.state_at == "2026-11-21T00:00:00.000000000Z"
        assert (after.kind, after.account_holder, after.payment_method, after.amount) == (
            before.kind,
            before.account_holder,
            before.payment_method,
            before.amount,
        )

    def test_an_older_upsert_after_the_end_does_not_revive_it(self, store: Any) -> None:
        upsert_payment(store, "sp_dead", "2026-11-20T00:00:00Z")
        end_payment(store, "sp_dead", "2026-11-21T00:00:00Z")
        assert upsert_payment(store, "sp_dead", "2026-11-20T12:00:00Z") is Outcome.IGNORED
        assert store.scheduled_payment("org_demo", "sp_dead").active is False

    def test_an_end_before_any_upsert_leaves_a_tombstone_an_older_upsert_cannot_revive(
        self, store: Any
    ) -> None:
        assert end_payment(store, "sp_ghost", "2026-11-21T00:00:00Z") is Outcome.ACCEPTED
        tombstone = store.scheduled_payment("org_demo", "sp_ghost")
        assert tombstone == ScheduledPayment(
            organization_id="org_demo",
            id="sp_ghost",
            kind=None,
            account_holder=None,
            payment_method=None,
            method=None,
            next_payment_at=None,
            amount=None,
            currency=None,
            active=False,
            state_at="2026-11-21T00:00:00.000000000Z",
        )
        assert upsert_payment(store, "sp_ghost", "2026-11-20T00:00:00Z") is Outcome.IGNORED
        assert store.scheduled_payment("org_demo", "sp_ghost") == tombstone

    def test_an_upsert_newer_than_the_end_makes_the_payment_active_again(self, store: Any) -> None:
        end_payment(store, "sp_back", "2026-11-21T00:00:00Z")
        assert upsert_payment(store, "sp_back", "2026-11-22T00:00:00Z") is Outcome.ACCEPTED
        payment = store.scheduled_payment("org_demo", "sp_back")
        assert payment.active is True
        assert payment.kind is PaymentKind.INSTALLMENT

    def test_an_older_end_after_a_newer_upsert_changes_nothing(self, store: Any) -> None:
        upsert_payment(store, "sp_late_end", "2026-11-22T00:00:00Z")
        assert end_payment(store, "sp_late_end", "2026-11-21T00:00:00Z") is Outcome.IGNORED
        assert store.scheduled_payment("org_demo", "sp_late_end").active is True

    def test_same_webhook_id_twice_has_one_effect(self, store: Any) -> None:
        first = factories.organization_upserted(data__name="Premier")
        # Same webhook-id, even with another (newer) body: the first delivery's effect stays.
        again = factories.organization_upserted(
            occurred_at="2026-11-23T00:00:00Z", data__name="Second"
        )
        assert send(store, first, webhook_id="msg_once") is Outcome.ACCEPTED
        assert send(store, again, webhook_id="msg_once") is Outcome.ACCEPTED
        assert store.organization("org_demo").name == "Premier"

    def test_a_redelivered_end_answers_accepted_and_changes_nothing(self, store: Any) -> None:
        body = factories.scheduled_payment_ended(data__scheduled_payment_id="sp_twice")
        assert send(store, body, webhook_id="msg_end") is Outcome.ACCEPTED
        before = store.scheduled_payment("org_demo", "sp_twice")
        assert send(store, body, webhook_id="msg_end") is Outcome.ACCEPTED
        assert store.scheduled_payment("org_demo", "sp_twice") == before

    def test_a_stale_delivery_redelivered_is_ignored_again(self, store: Any) -> None:
        # A stale delivery writes nothing, its webhook-id included: a resend is judged anew.
        upsert_payment(store, "sp_stale", "2026-11-22T00:00:00Z")
        stale = factories.scheduled_payment_upserted(
            occurred_at="2026-11-21T00:00:00Z", data__scheduled_payment_id="sp_stale"
        )
        assert send(store, stale, webhook_id="msg_stale") is Outcome.IGNORED
        assert send(store, stale, webhook_id="msg_stale") is Outcome.IGNORED
