"""The domain's rules: what is tracked, entry ids, actions, search folding, the caller."""

import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_action_center.adapters.http.auth import caller_from_claims
from payment_action_center.domain.entries import (
    Action,
    Actor,
    EntryType,
    Method,
    PaymentKind,
    Role,
    Status,
    entry_id_for,
    fold,
    tracked_type,
)
from payment_action_center.domain.errors import Conflict, Forbidden, Unauthorized
from tests.shared.factories import entry

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
ids = st.from_regex(r"[A-Za-z0-9_.:~-]{1,128}", fullmatch=True)


# --- what enters the Action Center (docs/contract.md §1) ------------------------------------------


@pytest.mark.parametrize(
    ("kind", "method", "entry_type"),
    [
        (PaymentKind.REFUND, Method.CREDIT_CARD, EntryType.CREDIT_CARD_REFUND),
        (PaymentKind.ONE_TIME, Method.ECHECK, EntryType.ECHECK_PAYMENT),
        (PaymentKind.INSTALLMENT, Method.CREDIT_CARD, EntryType.INSTALLMENT),
        (PaymentKind.INSTALLMENT, Method.ECHECK, EntryType.INSTALLMENT),
        (PaymentKind.SUBSCRIPTION, Method.CREDIT_CARD, EntryType.SUBSCRIPTION),
        (PaymentKind.SUBSCRIPTION, Method.ECHECK, EntryType.SUBSCRIPTION),
    ],
)
def test_tracked_failures_become_entries_of_their_type(
    kind: PaymentKind, method: Method, entry_type: EntryType
) -> None:
    assert tracked_type(kind, method) is entry_type


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        (PaymentKind.ONE_TIME, Method.CREDIT_CARD),  # the payer sees it at checkout
        (PaymentKind.REFUND, Method.ECHECK),
    ],
)
def test_untracked_failures_are_ignored(kind: PaymentKind, method: Method) -> None:
    assert tracked_type(kind, method) is None


def test_every_combination_is_either_tracked_or_ignored_as_listed() -> None:
    tracked = {
        (kind, method) for kind in PaymentKind for method in Method if tracked_type(kind, method)
    }

    assert len(tracked) == 6
    assert (PaymentKind.ONE_TIME, Method.CREDIT_CARD) not in tracked
    assert (PaymentKind.REFUND, Method.ECHECK) not in tracked


# --- entry ids --------------------------------------------------------------------------------


def test_entry_id_is_the_same_for_a_resent_failure() -> None:
    assert entry_id_for("org_demo", "pay_00042") == entry_id_for("org_demo", "pay_00042")


def test_same_payment_id_in_two_organizations_is_two_entries() -> None:
    assert entry_id_for("org_demo", "pay_00042") != entry_id_for("org_other", "pay_00042")


def test_organization_and_payment_ids_do_not_run_together() -> None:
    assert entry_id_for("org_a", "b_pay") != entry_id_for("org_a_b", "pay")


@given(organization_id=ids, payment_id=ids)
def test_entry_id_is_url_safe_and_stable(organization_id: str, payment_id: str) -> None:
    entry_id = entry_id_for(organization_id, payment_id)

    assert URL_SAFE.fullmatch(entry_id)
    assert entry_id.startswith("txn_")
    assert entry_id == entry_id_for(organization_id, payment_id)


@given(st.tuples(ids, ids), st.tuples(ids, ids))
def test_different_payments_have_different_entry_ids(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    assert (entry_id_for(*first) == entry_id_for(*second)) == (first == second)


# --- what an admin can do with an entry (docs/contract.md §2, §4.2) -------------------------------

SCHEDULED = [EntryType.INSTALLMENT, EntryType.SUBSCRIPTION]
ONE_OFF = [EntryType.CREDIT_CARD_REFUND, EntryType.ECHECK_PAYMENT]


@pytest.mark.parametrize("entry_type", SCHEDULED)
def test_failed_scheduled_payment_can_be_retried_dismissed_or_sent_to_change_its_method(
    entry_type: EntryType,
) -> None:
    assert replace(entry(), type=entry_type).actions == (
        Action.RETRY,
        Action.DISMISS,
        Action.CHANGE_PAYMENT_METHOD,
    )


@pytest.mark.parametrize("entry_type", ONE_OFF)
def test_failed_refund_or_echeck_payment_can_be_retried_or_dismissed_only(
    entry_type: EntryType,
) -> None:
    assert replace(entry(), type=entry_type).actions == (Action.RETRY, Action.DISMISS)


@pytest.mark.parametrize("entry_type", SCHEDULED)
def test_pending_retry_of_a_scheduled_payment_still_offers_to_change_its_method(
    entry_type: EntryType,
) -> None:
    pending = replace(entry(), type=entry_type, status=Status.RETRY_PENDING)

    assert pending.actions == (Action.CHANGE_PAYMENT_METHOD,)


@pytest.mark.parametrize("entry_type", ONE_OFF)
def test_pending_retry_of_a_one_off_offers_nothing(entry_type: EntryType) -> None:
    assert replace(entry(), type=entry_type, status=Status.RETRY_PENDING).actions == ()


@pytest.mark.parametrize("entry_type", list(EntryType))
@pytest.mark.parametrize("status", [Status.RECOVERED, Status.DISMISSED])
def test_closed_entry_offers_nothing(entry_type: EntryType, status: Status) -> None:
    assert replace(entry(), type=entry_type, status=status).actions == ()


def test_every_type_is_either_a_scheduled_payment_or_a_one_off() -> None:
    assert set(SCHEDULED) | set(ONE_OFF) == set(EntryType)


@pytest.mark.parametrize("entry_type", ONE_OFF)
def test_a_one_off_has_no_payment_method_to_change_and_says_why(entry_type: EntryType) -> None:
    with pytest.raises(Conflict, match="main platform"):
        replace(entry(), type=entry_type).require_payment_method_to_change()


@pytest.mark.parametrize("entry_type", SCHEDULED)
@pytest.mark.parametrize("status", list(Status))
def test_a_scheduled_payment_has_a_payment_method_to_change_in_every_status(
    entry_type: EntryType, status: Status
) -> None:
    replace(entry(), type=entry_type, status=status).require_payment_method_to_change()


def test_only_failed_and_retry_pending_are_open() -> None:
    assert {status for status in Status if status.is_open} == {
        Status.FAILED,
        Status.RETRY_PENDING,
    }


# --- search folding ---------------------------------------------------------------------------


def test_fold_drops_case_and_accents() -> None:
    assert fold("Éloïse CÔTÉ") == "eloise cote"


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("François Lévesque", "francois levesque"),
        ("ÇA", "ca"),
        ("Straße", "strasse"),
        ("e\u0301loi\u0308se", "eloise"),  # already decomposed
        ("pay_00042", "pay_00042"),
    ],
)
def test_fold_makes_spellings_of_a_name_alike(text: str, folded: str) -> None:
    assert fold(text) == folded


# --- the caller, from the JWT claims ----------------------------------------------------------


def claims(**overrides: Any) -> dict[str, Any]:
    """The claims the authorizer hands over for a billing admin of org_demo."""
    return {
        "sub": "user_17",
        "email": "admin@example.com",
        "org_id": "org_demo",
        "groups": ["billing_admin"],
    } | overrides


def test_caller_with_groups_as_a_list() -> None:
    caller = caller_from_claims(claims(groups=["billing_admin", "reader"]))

    assert caller.org_id == "org_demo"
    assert caller.user_id == "user_17"
    assert caller.email == "admin@example.com"
    assert caller.groups == {"billing_admin", "reader"}
    assert caller.actor == Actor(type="user", id="user_17", email="admin@example.com")


@pytest.mark.parametrize(
    "groups", ["[billing_admin reader]", "[billing_admin, reader]", "billing_admin reader"]
)
def test_caller_with_groups_as_the_string_http_api_hands_over(groups: str) -> None:
    assert caller_from_claims(claims(groups=groups)).groups == {"billing_admin", "reader"}


@pytest.mark.parametrize("groups", [None, [], "[]", ""])
def test_caller_without_groups_may_read_but_not_act(groups: object) -> None:
    caller = caller_from_claims(claims(groups=groups))

    assert caller.groups == frozenset()
    with pytest.raises(Forbidden):
        caller.require(Role.BILLING_ADMIN)


def test_billing_admin_may_act_and_reader_may_not() -> None:
    caller_from_claims(claims(groups="[billing_admin]")).require(Role.BILLING_ADMIN)
    with pytest.raises(Forbidden):
        caller_from_claims(claims(groups="[reader]")).require(Role.BILLING_ADMIN)


def test_caller_without_email_has_none() -> None:
    assert caller_from_claims(claims(email=None)).email is None
    assert caller_from_claims(claims(email="")).email is None


@pytest.mark.parametrize("org_id", [None, "", 42, "org#demo", "org demo", "x" * 129])
def test_token_without_a_valid_org_id_is_unauthorized(org_id: object) -> None:
    with pytest.raises(Unauthorized):
        caller_from_claims(claims(org_id=org_id))


def test_token_missing_org_id_is_unauthorized() -> None:
    without_org = claims()
    del without_org["org_id"]

    with pytest.raises(Unauthorized):
        caller_from_claims(without_org)


@pytest.mark.parametrize("sub", [None, "", 17])
def test_token_without_a_subject_is_unauthorized(sub: object) -> None:
    with pytest.raises(Unauthorized):
        caller_from_claims(claims(sub=sub))


@pytest.mark.parametrize("no_claims", [None, {}])
def test_request_without_claims_is_unauthorized(no_claims: dict[str, Any] | None) -> None:
    with pytest.raises(Unauthorized):
        caller_from_claims(no_claims)
