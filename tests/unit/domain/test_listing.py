"""The Action Center table's filters and its opaque, URL-safe cursor."""

import base64
import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_action_center.domain.entries import (
    AccountHolder,
    Entry,
    EntryType,
    Method,
    Status,
    entry_id_for,
)
from payment_action_center.domain.errors import InvalidCursor
from payment_action_center.domain.listing import EntryFilter, Position, decode_cursor, encode_cursor
from tests.shared.factories import entry

ORG = "org_demo"
ISSUED_FOR = EntryFilter().fingerprint(ORG)
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")

positions = st.builds(Position, failed_at=st.text(), entry_id=st.text())
realistic_positions = st.builds(
    Position,
    failed_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}123Z"),
    entry_id=st.text(min_size=1).map(lambda payment_id: entry_id_for(ORG, payment_id)),
)


def refused_or_position(cursor: str) -> Position | None:
    """Decoding any text names a position or is refused as a cursor; nothing else escapes."""
    try:
        return decode_cursor(cursor, ISSUED_FOR)
    except InvalidCursor:
        return None


# --- the cursor -------------------------------------------------------------------------------


@given(realistic_positions)
def test_cursor_names_the_position_it_was_issued_for(position: Position) -> None:
    assert decode_cursor(encode_cursor(position, ISSUED_FOR), ISSUED_FOR) == position


@given(st.one_of(positions, realistic_positions))
def test_cursor_is_url_safe(position: Position) -> None:
    assert URL_SAFE.fullmatch(encode_cursor(position, ISSUED_FOR))


@given(st.text())
def test_any_text_is_a_position_or_an_invalid_cursor(cursor: str) -> None:
    refused_or_position(cursor)


@given(st.binary())
def test_any_base64_of_any_bytes_is_a_position_or_an_invalid_cursor(raw: bytes) -> None:
    encoded = base64.urlsafe_b64encode(raw).decode()
    refused_or_position(encoded)
    refused_or_position(encoded.rstrip("="))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_any_json_in_base64_is_a_position_or_an_invalid_cursor(value: object) -> None:
    encoded = base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    refused_or_position(encoded)


@pytest.mark.parametrize(
    "forged",
    [
        "",
        "not a cursor",
        "!!!!",
        "é",
        "\x00",
        "bnVsbA",  # null
        "W10",  # []
        "WzEsMiwzXQ",  # [1,2,3]
        "YWJj",  # "abc" is not JSON
        base64.urlsafe_b64encode(b'"abc"').decode(),  # three characters unpack like a list
        base64.urlsafe_b64encode(b'{"a":1,"b":2,"c":3}').decode(),  # three keys, likewise
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    ],
)
def test_cursor_that_was_not_issued_is_refused(forged: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(forged, ISSUED_FOR)


def test_deeply_nested_cursor_is_refused_not_a_crash() -> None:
    # json.loads raises RecursionError past ~1000 levels, which is neither ValueError nor
    # TypeError: the API would answer 500 to a cursor it did not issue.
    forged = base64.urlsafe_b64encode(b"[" * 100_000).decode()

    with pytest.raises(InvalidCursor):
        decode_cursor(forged, ISSUED_FOR)


def test_cursor_of_another_organization_is_refused() -> None:
    position = Position("2026-11-24T15:30:00.000000000Z", entry_id_for(ORG, "pay_1"))
    cursor = encode_cursor(position, EntryFilter().fingerprint("org_other"))

    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, ISSUED_FOR)


@pytest.mark.parametrize(
    "other",
    [
        EntryFilter(status=Status.FAILED),
        EntryFilter(type=EntryType.INSTALLMENT),
        EntryFilter(method=Method.ECHECK),
        EntryFilter(account_holder_id="ah_1"),
        EntryFilter(q="tremblay"),
        EntryFilter(failed_from="2026-11-01T00:00:00.000000000Z"),
        EntryFilter(failed_to="2026-11-30T00:00:00.000000000Z"),
        EntryFilter(min_amount=1),
        EntryFilter(max_amount=100),
    ],
)
def test_cursor_issued_for_other_filters_is_refused(other: EntryFilter) -> None:
    position = Position("2026-11-24T15:30:00.000000000Z", entry_id_for(ORG, "pay_1"))

    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(position, other.fingerprint(ORG)), ISSUED_FOR)
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(position, ISSUED_FOR), other.fingerprint(ORG))


# --- the filters ------------------------------------------------------------------------------


def with_holder(base: Entry, name: str, holder_id: str = "ah_1") -> Entry:
    return replace(base, account_holder=AccountHolder(holder_id, name, "holder@example.com"))


def test_open_entry_matches_no_filter() -> None:
    assert EntryFilter().matches(entry())
    assert EntryFilter().matches(replace(entry(), status=Status.RETRY_PENDING))


def test_open_entry_matches_the_filter_made_of_its_own_values() -> None:
    e = entry()

    assert EntryFilter(
        status=e.status,
        type=e.type,
        method=e.method,
        account_holder_id=e.account_holder.id,
        q=e.account_holder.name,
        failed_from=e.failed_at,
        failed_to=e.failed_at,
        min_amount=e.amount,
        max_amount=e.amount,
    ).matches(e)


@pytest.mark.parametrize("status", [Status.RECOVERED, Status.DISMISSED])
@pytest.mark.parametrize("where", [EntryFilter(), EntryFilter(status=Status.FAILED)])
def test_closed_entries_never_match(status: Status, where: EntryFilter) -> None:
    closed = replace(entry(), status=status)

    assert not where.matches(closed)
    assert not replace(where, status=status).matches(closed)


def test_status_filter_tells_failed_from_retry_pending() -> None:
    failed = entry()
    pending = replace(entry(), status=Status.RETRY_PENDING)

    assert EntryFilter(status=Status.FAILED).matches(failed)
    assert not EntryFilter(status=Status.FAILED).matches(pending)
    assert EntryFilter(status=Status.RETRY_PENDING).matches(pending)
    assert not EntryFilter(status=Status.RETRY_PENDING).matches(failed)


def test_type_filter() -> None:
    installment = entry()
    subscription = entry(data__kind="subscription")

    assert EntryFilter(type=EntryType.SUBSCRIPTION).matches(subscription)
    assert not EntryFilter(type=EntryType.SUBSCRIPTION).matches(installment)


def test_method_filter() -> None:
    by_card = entry()
    by_echeck = entry(data__kind="one_time", data__method="echeck")

    assert EntryFilter(method=Method.ECHECK).matches(by_echeck)
    assert not EntryFilter(method=Method.ECHECK).matches(by_card)
    assert EntryFilter(method=Method.CREDIT_CARD).matches(by_card)


def test_account_holder_filter() -> None:
    e = with_holder(entry(), "Éloïse Tremblay", holder_id="ah_42")

    assert EntryFilter(account_holder_id="ah_42").matches(e)
    assert not EntryFilter(account_holder_id="ah_4").matches(e)
    assert not EntryFilter(account_holder_id="AH_42").matches(e)


@pytest.mark.parametrize(
    "q", ["eloise", "ÉLOÏSE", "Eloise Tremblay", "tremblay", "loïse trem", "ELOISE T"]
)
def test_search_finds_the_account_holder_name_whatever_case_and_accents(q: str) -> None:
    assert EntryFilter(q=q).matches(with_holder(entry(), "Éloïse Tremblay"))


@pytest.mark.parametrize("q", ["pay_00042", "PAY_00042", "00042", "pay_0004"])
def test_search_finds_the_payment_id_whatever_case(q: str) -> None:
    assert EntryFilter(q=q).matches(replace(entry(), payment_id="pay_00042"))


@pytest.mark.parametrize("q", ["martin", "eloise martin", "pay_00043"])
def test_search_without_a_match_hides_the_entry(q: str) -> None:
    e = replace(with_holder(entry(), "Éloïse Tremblay"), payment_id="pay_00042")

    assert not EntryFilter(q=q).matches(e)


def test_search_folds_the_name_as_well_as_the_query() -> None:
    assert EntryFilter(q="cote").matches(with_holder(entry(), "Jean CÔTÉ"))
    assert EntryFilter(q="CÔTÉ").matches(with_holder(entry(), "jean cote"))


@pytest.mark.parametrize(
    ("failed_at", "shown"),
    [
        ("2026-11-01T00:00:00.000000000Z", True),  # on the lower bound
        ("2026-11-30T23:59:59.999999999Z", True),  # on the upper bound
        ("2026-11-15T12:00:00.000000000Z", True),
        ("2026-10-31T23:59:59.999999999Z", False),  # a nanosecond before
        ("2026-12-01T00:00:00.000000000Z", False),  # a nanosecond after
    ],
)
def test_time_bounds_are_inclusive_to_the_nanosecond(failed_at: str, shown: bool) -> None:
    where = EntryFilter(
        failed_from="2026-11-01T00:00:00.000000000Z", failed_to="2026-11-30T23:59:59.999999999Z"
    )

    assert where.matches(replace(entry(), failed_at=failed_at)) is shown


def test_each_time_bound_works_alone() -> None:
    e = replace(entry(), failed_at="2026-11-24T15:30:00.000000000Z")

    assert EntryFilter(failed_from="2026-11-24T15:30:00.000000000Z").matches(e)
    assert not EntryFilter(failed_from="2026-11-24T15:30:00.000000001Z").matches(e)
    assert EntryFilter(failed_to="2026-11-24T15:30:00.000000000Z").matches(e)
    assert not EntryFilter(failed_to="2026-11-24T15:29:59.999999999Z").matches(e)


@pytest.mark.parametrize(
    ("amount", "shown"), [(999, False), (1000, True), (5000, True), (9999, True), (10000, False)]
)
def test_amount_bounds_are_inclusive(amount: int, shown: bool) -> None:
    where = EntryFilter(min_amount=1000, max_amount=9999)

    assert where.matches(replace(entry(), amount=amount)) is shown


def test_each_amount_bound_works_alone() -> None:
    e = replace(entry(), amount=12500)

    assert EntryFilter(min_amount=12500).matches(e)
    assert not EntryFilter(min_amount=12501).matches(e)
    assert EntryFilter(max_amount=12500).matches(e)
    assert not EntryFilter(max_amount=12499).matches(e)


def test_every_filter_must_hold() -> None:
    e = entry()

    assert not EntryFilter(type=e.type, method=Method.ECHECK).matches(e)
    assert not EntryFilter(account_holder_id=e.account_holder.id, q="nobody").matches(e)
