"""What every BillingStore must do: run against the in-memory fake (unit) and DynamoDB Local
(integration), so the fake cannot drift from the real thing."""

from typing import Any

import pytest

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.http.billing_webhook import handle_billing_event
from payment_action_center.app.results import Outcome
from payment_action_center.domain.billing import Organization, ScheduledPayment
from payment_action_center.domain.cards import ExpiringCard, ScheduledAtStake
from payment_action_center.domain.entries import AccountHolder, Method, PaymentKind, PaymentMethod
from payment_action_center.domain.errors import InvalidPayload
from tests.shared import factories
from tests.shared.fakes import InMemoryBillingStore

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

    def test_a_processor_account_reads_back_until_an_upsert_without_it(self, store: Any) -> None:
        """The settings are replaced whole: an upsert that no longer names an account clears it."""
        body = factories.organization_upserted(data__processor_account_id="acct_1OrgDemo")
        assert send(store, body, webhook_id="msg_account") is Outcome.ACCEPTED
        assert store.organization("org_demo").processor_account_id == "acct_1OrgDemo"
        [read] = store.organizations(["org_demo"]).values()
        assert read.processor_account_id == "acct_1OrgDemo"
        without = factories.organization_upserted(occurred_at="2026-11-21T12:00:00Z")
        assert send(store, without, webhook_id="msg_without") is Outcome.ACCEPTED
        assert store.organization("org_demo").processor_account_id is None

    def test_a_processor_account_leads_to_its_organization(self, store: Any) -> None:
        body = factories.organization_upserted(data__processor_account_id="acct_1OrgDemo")
        assert send(store, body) is Outcome.ACCEPTED
        found = store.organization_for_account("acct_1OrgDemo")
        assert found == store.organization("org_demo")
        assert found.processor_account_id == "acct_1OrgDemo"
        assert store.organization_for_account("acct_1Unknown") is None

    def test_no_account_leads_to_no_organization(self, store: Any) -> None:
        assert send(store, factories.organization_upserted()) is Outcome.ACCEPTED
        assert store.organization_for_account("") is None
        assert store.organization_for_account("acct_1OrgDemo") is None

    def test_an_account_left_behind_leads_nowhere(self, store: Any) -> None:
        """The old account's mapping stays, but the organization no longer names it."""
        send(store, factories.organization_upserted(data__processor_account_id="acct_1Old"))
        moved = factories.organization_upserted(
            occurred_at="2026-11-21T12:00:00Z", data__processor_account_id="acct_1New"
        )
        assert send(store, moved) is Outcome.ACCEPTED
        assert store.organization_for_account("acct_1Old") is None
        assert store.organization_for_account("acct_1New").id == "org_demo"
        dropped = factories.organization_upserted(occurred_at="2026-11-22T12:00:00Z")
        assert send(store, dropped) is Outcome.ACCEPTED
        assert store.organization_for_account("acct_1New") is None

    def test_an_account_claimed_by_another_organization_leads_to_that_one_only(
        self, store: Any
    ) -> None:
        send(store, factories.organization_upserted(data__processor_account_id="acct_1Shared"))
        other = factories.organization_upserted(
            data__organization_id="org_other", data__processor_account_id="acct_1Shared"
        )
        assert send(store, other) is Outcome.ACCEPTED
        assert store.organization_for_account("acct_1Shared").id == "org_other"
        # The other organization moves on: the mapping names it still, and it is not followed.
        moved = factories.organization_upserted(
            occurred_at="2026-11-21T12:00:00Z",
            data__organization_id="org_other",
            data__processor_account_id="acct_1Other",
        )
        assert send(store, moved) is Outcome.ACCEPTED
        assert store.organization_for_account("acct_1Shared") is None
        assert store.organization_for_account("acct_1Other").id == "org_other"

    def test_a_stale_upsert_does_not_claim_its_account(self, store: Any) -> None:
        newer = factories.organization_upserted(
            occurred_at="2026-11-22T10:00:00Z", data__processor_account_id="acct_1Newer"
        )
        older = factories.organization_upserted(
            occurred_at="2026-11-21T10:00:00Z", data__processor_account_id="acct_1Older"
        )
        assert send(store, newer) is Outcome.ACCEPTED
        assert send(store, older) is Outcome.IGNORED
        assert store.organization_for_account("acct_1Older") is None
        assert store.organization_for_account("acct_1Newer").id == "org_demo"

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


# ------------------------------------------------------------------ cards and CardsByExpiry

MONTH = "2026-12"  # the factories' cards expire in December 2026


def upsert_card(store: Any, card_id: str, occurred_at: str, **overrides: Any) -> Outcome:
    body = factories.card_upserted(occurred_at=occurred_at, data__card_id=card_id, **overrides)
    return send(store, body)


def delete_card(store: Any, card_id: str, occurred_at: str) -> Outcome:
    return send(store, factories.card_deleted(occurred_at=occurred_at, data__card_id=card_id))


def link(
    store: Any, payment_id: str, card_id: str | None, occurred_at: str, **overrides: Any
) -> Outcome:
    """Upsert an active scheduled payment charged to the card (None: to no card)."""
    method: dict[str, Any] = {"token": "tok_success"}
    if card_id is not None:
        method["card_id"] = card_id
    return upsert_payment(store, payment_id, occurred_at, data__payment_method=method, **overrides)


def refusal(body: dict[str, Any]) -> list[str]:
    """The 400's reasons (where each problem is), after checking that nothing was stored."""
    store = InMemoryBillingStore()
    with pytest.raises(InvalidPayload) as refused:
        handle_billing_event(store, factories.billing_delivery(), body)
    assert store == InMemoryBillingStore()
    return [problem.loc for problem in refused.value.problems]


def race_after_read(monkeypatch: pytest.MonkeyPatch, store: Any, other: Any) -> None:
    """The next change `store` applies is raced: between its read and its write, `other` links
    card_race to sp_concurrent (once), so the write finds a version it did not read."""
    original = store.read_linked
    raced: list[bool] = []

    def read_then_race(change: Any) -> Any:
        read = original(change)
        if not raced:
            raced.append(True)
            link(other, "sp_concurrent", "card_race", T1)
        return read

    monkeypatch.setattr(store, "read_linked", read_then_race)


def listed(store: Any, month: str = MONTH, organization_id: str = "org_demo") -> list[str]:
    """Card ids listed for the month, every page read."""
    ids: list[str] = []
    after = None
    while True:
        page = store.expiring(organization_id, month, 100, after)
        ids += [card.card_id for card in page.items]
        if page.next is None:
            return ids
        after = page.next


T1, T2, T3, T4 = (f"2026-11-2{n}T10:00:00Z" for n in range(1, 5))


def cards_of_many_organizations(store: Any, count: int) -> list[tuple[str, str]]:
    """Qualifying cards of `count` organizations, one or two each (30 for 20), over several
    CardsByExpiry shards; returns (organization, card id) of each."""
    organizations = [f"org_many_{n:02d}" for n in range(count)]
    assert len({keys.shard(o, keys.EXPIRY_SHARDS) for o in organizations}) >= count // 2
    cards = []
    for n, organization in enumerate(organizations):
        for c in range(1 + n % 2):
            card_id = f"card_{n:02d}_{c}"
            upsert_card(store, card_id, T1, data__organization_id=organization)
            link(store, f"sp_{n:02d}_{c}", card_id, T1, data__organization_id=organization)
            cards.append((organization, card_id))
    return cards


class ExpiringCardsContract:
    """Subclasses provide a `store` fixture with an empty store (a BillingStore that also
    answers `expiring`)."""

    def test_a_wallet_card_linked_to_a_scheduled_payment_is_listed_with_what_is_at_stake(
        self, store: Any
    ) -> None:
        assert upsert_card(store, "card_a", T1) is Outcome.ACCEPTED
        assert link(store, "sp_a", "card_a", T1, data__kind="subscription") is Outcome.ACCEPTED
        page = store.expiring("org_demo", MONTH, 50, None)
        assert page.next is None
        assert page.items == [
            ExpiringCard(
                card_id="card_a",
                organization_id="org_demo",
                account_holder=page.items[0].account_holder,
                brand="visa",
                last4="4242",
                exp_month=12,
                exp_year=2026,
                scheduled_payments=(
                    ScheduledAtStake(
                        "sp_a",
                        PaymentKind.SUBSCRIPTION,
                        "2026-12-01T14:00:00.000000000Z",
                        7500,
                        "CAD",
                    ),
                ),
            )
        ]
        assert page.items[0].account_holder.name == "Éloïse Tremblay"

    def test_a_card_not_in_the_wallet_is_never_listed_even_linked_and_expiring(
        self, store: Any
    ) -> None:
        upsert_card(store, "card_out", T1, data__in_wallet=False)
        link(store, "sp_out", "card_out", T1)
        assert listed(store) == []
        assert store.organizations_expiring(MONTH) == []

    def test_an_unlinked_card_is_not_listed(self, store: Any) -> None:
        upsert_card(store, "card_free", T1)
        link(store, "sp_other", None, T1)
        assert listed(store) == []

    def test_in_wallet_flipped_off_leaves_and_on_comes_back(self, store: Any) -> None:
        upsert_card(store, "card_w", T1)
        link(store, "sp_w", "card_w", T1)
        assert listed(store) == ["card_w"]
        upsert_card(store, "card_w", T2, data__in_wallet=False)
        assert listed(store) == []
        upsert_card(store, "card_w", T3, data__in_wallet=True)
        assert listed(store) == ["card_w"]

    def test_a_schedule_moved_to_another_card_moves_the_listing(self, store: Any) -> None:
        upsert_card(store, "card_old", T1)
        upsert_card(store, "card_new", T1)
        link(store, "sp_move", "card_old", T1)
        assert listed(store) == ["card_old"]
        assert link(store, "sp_move", "card_new", T2) is Outcome.ACCEPTED
        assert listed(store) == ["card_new"]
        assert store.card("org_demo", "card_old").linked_schedules == frozenset()
        assert store.card("org_demo", "card_new").linked_schedules == {"sp_move"}

    def test_a_schedule_moved_off_cards_unlinks_it(self, store: Any) -> None:
        upsert_card(store, "card_u", T1)
        link(store, "sp_u", "card_u", T1)
        link(store, "sp_u", None, T2)  # now paid by e-check, say
        assert listed(store) == []

    def test_an_ended_schedule_leaves_but_another_one_keeps_the_card(self, store: Any) -> None:
        upsert_card(store, "card_two", T1)
        link(store, "sp_1", "card_two", T1)
        link(store, "sp_2", "card_two", T1)
        assert [
            len(c.scheduled_payments) for c in store.expiring("org_demo", MONTH, 9, None).items
        ] == [2]
        assert end_payment(store, "sp_1", T2) is Outcome.ACCEPTED
        page = store.expiring("org_demo", MONTH, 9, None)
        assert [s.scheduled_payment_id for s in page.items[0].scheduled_payments] == ["sp_2"]
        end_payment(store, "sp_2", T2)
        assert listed(store) == []

    def test_a_deleted_card_leaves_and_a_newer_upsert_brings_it_back(self, store: Any) -> None:
        upsert_card(store, "card_del", T1)
        link(store, "sp_del", "card_del", T1)
        assert delete_card(store, "card_del", T2) is Outcome.ACCEPTED
        assert listed(store) == []
        record = store.card("org_demo", "card_del")
        assert record.card.deleted is True
        assert record.linked_schedules == {"sp_del"}  # the schedule still names it
        assert upsert_card(store, "card_del", T3) is Outcome.ACCEPTED
        assert listed(store) == ["card_del"]

    def test_a_schedule_before_its_card_makes_a_stub_that_is_never_listed(self, store: Any) -> None:
        assert link(store, "sp_first", "card_later", T1) is Outcome.ACCEPTED
        stub = store.card("org_demo", "card_later")
        assert stub is not None
        assert (stub.card, stub.linked_schedules) == (None, {"sp_first"})
        assert listed(store) == []
        assert upsert_card(store, "card_later", T2) is Outcome.ACCEPTED
        assert listed(store) == ["card_later"]

    def test_a_card_expiring_this_month_or_in_two_months_is_not_listed(self, store: Any) -> None:
        upsert_card(store, "card_nov", T1, data__exp_month=11)
        upsert_card(store, "card_dec", T1)
        upsert_card(store, "card_jan", T1, data__exp_month=1, data__exp_year=2027)
        for n, card_id in enumerate(["card_nov", "card_dec", "card_jan"]):
            link(store, f"sp_m{n}", card_id, T1)
        assert listed(store, "2026-12") == ["card_dec"]
        assert listed(store, "2026-11") == ["card_nov"]
        assert listed(store, "2027-01") == ["card_jan"]

    def test_a_new_expiry_moves_the_card_to_its_month_at_once(self, store: Any) -> None:
        upsert_card(store, "card_renewed", T1)
        link(store, "sp_r", "card_renewed", T1)
        upsert_card(store, "card_renewed", T2, data__exp_year=2029)
        assert listed(store) == []
        assert listed(store, "2029-12") == ["card_renewed"]

    def test_an_older_card_upsert_changes_nothing(self, store: Any) -> None:
        upsert_card(store, "card_o", T2, data__in_wallet=False)
        link(store, "sp_o", "card_o", T1)
        assert upsert_card(store, "card_o", T1, data__in_wallet=True) is Outcome.IGNORED
        assert listed(store) == []
        assert store.card("org_demo", "card_o").card.state_at == "2026-11-22T10:00:00.000000000Z"

    def test_an_older_upsert_after_a_delete_does_not_resurrect_the_card(self, store: Any) -> None:
        link(store, "sp_z", "card_z", T1)
        assert delete_card(store, "card_z", T3) is Outcome.ACCEPTED  # before any upsert
        assert upsert_card(store, "card_z", T2) is Outcome.IGNORED
        assert listed(store) == []
        assert store.card("org_demo", "card_z").card.deleted is True

    def test_an_older_schedule_upsert_does_not_move_the_link_back(self, store: Any) -> None:
        upsert_card(store, "card_p", T1)
        upsert_card(store, "card_q", T1)
        link(store, "sp_pq", "card_q", T3)
        assert link(store, "sp_pq", "card_p", T2) is Outcome.IGNORED
        assert listed(store) == ["card_q"]

    def test_an_older_end_does_not_unlink(self, store: Any) -> None:
        upsert_card(store, "card_e", T1)
        link(store, "sp_e", "card_e", T3)
        assert end_payment(store, "sp_e", T2) is Outcome.IGNORED
        assert listed(store) == ["card_e"]

    def test_a_redelivered_card_event_has_one_effect(self, store: Any) -> None:
        upsert_card(store, "card_r", T1)
        link(store, "sp_rr", "card_r", T1)
        body = factories.card_upserted(occurred_at=T2, data__card_id="card_r")
        assert send(store, body, webhook_id="msg_card") is Outcome.ACCEPTED
        version = store.card("org_demo", "card_r").version
        again = factories.card_upserted(
            occurred_at=T3, data__card_id="card_r", data__in_wallet=False
        )
        assert send(store, again, webhook_id="msg_card") is Outcome.ACCEPTED
        assert store.card("org_demo", "card_r").version == version
        assert listed(store) == ["card_r"]

    def test_each_organization_lists_its_own_in_pages(self, store: Any) -> None:
        for n in range(5):
            upsert_card(store, f"card_{n}", T1)
            link(store, f"sp_p{n}", f"card_{n}", T1)
        upsert_card(store, "card_x", T1, data__organization_id="org_other")
        link(store, "sp_x", "card_x", T1, data__organization_id="org_other")
        assert listed(store) == [f"card_{n}" for n in range(5)]
        assert listed(store, organization_id="org_other") == ["card_x"]
        assert sorted(store.organizations_expiring(MONTH)) == ["org_demo", "org_other"]
        first = store.expiring("org_demo", MONTH, 2, None)
        assert [c.card_id for c in first.items] == ["card_0", "card_1"]
        second = store.expiring("org_demo", MONTH, 2, first.next)
        assert [c.card_id for c in second.items] == ["card_2", "card_3"]
        last = store.expiring("org_demo", MONTH, 2, second.next)
        assert ([c.card_id for c in last.items], last.next) == (["card_4"], None)
        exact = store.expiring("org_demo", MONTH, 5, None)
        assert (len(exact.items), exact.next) == (5, None)

    def test_one_organization_of_many_lists_its_own_cards(self, store: Any) -> None:
        expected = cards_of_many_organizations(store, 20)
        for organization in ("org_many_00", "org_many_07", "org_many_19"):
            mine = sorted(card for org, card in expected if org == organization)
            assert listed(store, organization_id=organization) == mine

    def test_the_scan_finds_each_organization_with_an_expiring_card_once(self, store: Any) -> None:
        expected = cards_of_many_organizations(store, 20)  # over several shards
        upsert_card(store, "card_free", T1, data__organization_id="org_unlinked")
        upsert_card(store, "card_out", T1, data__organization_id="org_out", data__in_wallet=False)
        link(store, "sp_out", "card_out", T1, data__organization_id="org_out")
        found = store.organizations_expiring(MONTH)
        assert sorted(found) == sorted({organization for organization, _ in expected})
        assert len(found) == len(set(found)) == 20
        assert store.organizations_expiring("2027-01") == []

    def test_the_scan_no_longer_names_an_organization_whose_card_left(self, store: Any) -> None:
        upsert_card(store, "card_gone", T1, data__organization_id="org_leaving")
        link(store, "sp_gone", "card_gone", T1, data__organization_id="org_leaving")
        assert store.organizations_expiring(MONTH) == ["org_leaving"]
        upsert_card(
            store, "card_gone", T2, data__organization_id="org_leaving", data__in_wallet=False
        )
        assert store.organizations_expiring(MONTH) == []

    @pytest.mark.parametrize("order", [(0, 1, 2, 3, 4, 5), (5, 4, 3, 2, 1, 0), (3, 5, 0, 4, 2, 1)])
    def test_every_order_of_the_same_deliveries_ends_the_same(
        self, store: Any, order: tuple[int, ...]
    ) -> None:
        # The schedule moves A -> B while card B is deleted and re-added, delivered backwards.
        events = [
            factories.card_upserted(occurred_at=T1, data__card_id="card_A"),
            factories.card_upserted(occurred_at=T1, data__card_id="card_B"),
            factories.scheduled_payment_upserted(
                occurred_at=T1,
                data__scheduled_payment_id="sp_ord",
                data__payment_method={"token": "t", "card_id": "card_A"},
            ),
            factories.scheduled_payment_upserted(
                occurred_at=T2,
                data__scheduled_payment_id="sp_ord",
                data__payment_method={"token": "t", "card_id": "card_B"},
            ),
            factories.card_deleted(occurred_at=T3, data__card_id="card_B"),
            factories.card_upserted(occurred_at=T4, data__card_id="card_B"),
        ]
        for index in order:
            send(store, events[index])
        assert listed(store) == ["card_B"]
        assert store.card("org_demo", "card_A").linked_schedules == frozenset()
