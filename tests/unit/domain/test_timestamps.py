"""Instants: one canonical UTC form with nine fractional digits, so string order is time order."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from payment_action_center.domain import timestamps

CANONICAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T15:30:00Z", "2026-11-24T15:30:00.000000000Z"),
        ("2026-11-24t15:30:00z", "2026-11-24T15:30:00.000000000Z"),
        ("2026-11-24T15:30:00.5Z", "2026-11-24T15:30:00.500000000Z"),
        ("2026-11-24T15:30:00+00:00", "2026-11-24T15:30:00.000000000Z"),
        ("2026-11-24T10:30:00-05:00", "2026-11-24T15:30:00.000000000Z"),
        ("2026-11-25T01:00:00.123+09:30", "2026-11-24T15:30:00.123000000Z"),
        ("2026-01-01T00:30:00.25+01:00", "2025-12-31T23:30:00.250000000Z"),
        ("2026-12-31T22:00:00-03:00", "2027-01-01T01:00:00.000000000Z"),
    ],
)
def test_zulu_and_offset_inputs_become_the_same_utc_form(text: str, expected: str) -> None:
    assert timestamps.canonical(text) == expected


def test_nanoseconds_are_kept_to_the_last_digit() -> None:
    first = timestamps.canonical("2026-11-24T15:30:00.000000001Z")
    second = timestamps.canonical("2026-11-24T10:30:00.000000002-05:00")

    assert first == "2026-11-24T15:30:00.000000001Z"
    assert second == "2026-11-24T15:30:00.000000002Z"
    assert first < second


def test_canonical_form_is_canonical_already() -> None:
    instant = "2026-11-24T15:30:00.123456789Z"

    assert timestamps.canonical(instant) == instant


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-24T15:30:00",  # no zone: which instant is it?
        "2026-11-24T15:30:00.123456789",
        "2026-11-24",
        "15:30:00Z",
        "",
        "garbage",
        "yesterday at noon",
        "2026-13-01T00:00:00Z",  # month 13
        "2026-00-10T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-24T25:00:00Z",
        "2026-11-24T15:60:00Z",
        "2026-11-24T15:30:00.1234567891Z",  # ten fractional digits
        "2026-11-24T15:30:00.Z",
        "2026-11-24T15:30:00+0500",
        "2026-11-24T15:30:00+24:00",
        " 2026-11-24T15:30:00Z",
        "2026-11-24T15:30:00Z\n",
        "1700000000",
    ],
)
def test_text_that_is_not_an_rfc3339_instant_with_a_zone_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        timestamps.canonical(text)


def test_fraction_in_other_scripts_digits_is_refused() -> None:
    # "\u0661" is ARABIC-INDIC DIGIT ONE: `\d` matches it, and it would land in the canonical
    # string, which is then neither ASCII nor ordered like the other instants.
    with pytest.raises(ValueError):
        timestamps.canonical("2026-11-24T15:30:00.\u0661Z")


def test_instant_pushed_out_of_the_calendar_by_its_offset_is_a_value_error() -> None:
    # 0001-01-01T00:00:00+01:00 is 0000-12-31T23:00:00Z: no datetime holds it. Callers (the
    # pydantic schema of occurred_at) only turn ValueError into a 400; anything else is a 500.
    with pytest.raises(ValueError):
        timestamps.canonical("0001-01-01T00:00:00+01:00")
    with pytest.raises(ValueError):
        timestamps.canonical("9999-12-31T23:59:59-01:00")


def test_years_before_1000_keep_the_fixed_width() -> None:
    # Fixed width is what makes string order time order; "999-…" sorts after "2026-…".
    early = timestamps.canonical("0999-05-01T00:00:00Z")

    assert early == "0999-05-01T00:00:00.000000000Z"
    assert early < timestamps.canonical("2026-11-24T15:30:00Z")


@st.composite
def instants(draw: st.DrawFn) -> tuple[str, int]:
    """An RFC 3339 text with any offset and 0-9 fractional digits, and its exact nanosecond."""
    # Years 1000+ so that every offset keeps the instant in the calendar; years before 1000
    # and the calendar's edges have their own tests above.
    local = draw(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)))
    nanos = draw(st.integers(min_value=0, max_value=999_999_999))
    digits = draw(st.integers(min_value=0, max_value=9))
    offset_minutes = draw(st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
    fraction = f"{nanos:09d}"[:digits]
    if offset_minutes == 0 and draw(st.booleans()):
        zone = "Z"
    else:
        sign = "-" if offset_minutes < 0 else "+"
        hours, minutes = divmod(abs(offset_minutes), 60)
        zone = f"{sign}{hours:02d}:{minutes:02d}"
    text = f"{local.year:04d}-{local:%m-%dT%H:%M:%S}" + (f".{fraction}" if fraction else "") + zone
    moment = local.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset_minutes)))
    exact = (moment - EPOCH) // timedelta(seconds=1) * 10**9 + int(fraction.ljust(9, "0"))
    return text, exact


@given(instants())
def test_canonical_form_is_fixed_width_utc_and_names_the_same_instant(
    instant: tuple[str, int],
) -> None:
    text, exact = instant

    canonical = timestamps.canonical(text)

    assert CANONICAL.fullmatch(canonical)
    seconds = (timestamps.to_datetime(canonical).replace(microsecond=0) - EPOCH) // timedelta(
        seconds=1
    )
    assert seconds * 10**9 + int(canonical[20:29]) == exact


@given(instants(), instants())
def test_string_order_of_canonical_instants_is_time_order(
    first: tuple[str, int], second: tuple[str, int]
) -> None:
    (first_text, first_exact), (second_text, second_exact) = first, second

    a, b = timestamps.canonical(first_text), timestamps.canonical(second_text)

    assert (a < b) == (first_exact < second_exact)
    assert (a == b) == (first_exact == second_exact)


@pytest.mark.parametrize(
    ("instant", "shown"),
    [
        ("2026-11-24T15:30:00.000000000Z", "2026-11-24T15:30:00Z"),
        ("2026-11-24T15:30:00.120000000Z", "2026-11-24T15:30:00.12Z"),
        ("2026-11-24T15:30:00.000000100Z", "2026-11-24T15:30:00.0000001Z"),
        ("2026-11-24T15:30:00.123456789Z", "2026-11-24T15:30:00.123456789Z"),
    ],
)
def test_display_trims_trailing_fractional_zeros(instant: str, shown: str) -> None:
    assert timestamps.display(instant) == shown


@given(instants())
def test_displayed_instant_reads_back_as_the_same_instant(instant: tuple[str, int]) -> None:
    canonical = timestamps.canonical(instant[0])

    assert timestamps.canonical(timestamps.display(canonical)) == canonical


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(hours=1), "2026-11-24T16:30:00.123456789Z"),
        (timedelta(days=-30), "2026-10-25T15:30:00.123456789Z"),
        (timedelta(hours=9), "2026-11-25T00:30:00.123456789Z"),
        (timedelta(microseconds=1), "2026-11-24T15:30:00.123457789Z"),
        (timedelta(0), "2026-11-24T15:30:00.123456789Z"),
    ],
)
def test_plus_shifts_the_instant_and_keeps_its_sub_microsecond_digits(
    delta: timedelta, expected: str
) -> None:
    assert timestamps.plus("2026-11-24T15:30:00.123456789Z", delta) == expected


@given(
    instants(),
    st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=3650)),
)
def test_plus_moves_by_exactly_the_delta(instant: tuple[str, int], delta: timedelta) -> None:
    canonical = timestamps.canonical(instant[0])
    # Stay clear of years before 1000 (see test_years_before_1000_keep_the_fixed_width).
    assume(canonical[:4] >= "1011" and canonical[:4] < "9989")

    shifted = timestamps.plus(canonical, delta)

    assert CANONICAL.fullmatch(shifted)
    assert shifted[-4:] == canonical[-4:]
    assert timestamps.to_datetime(shifted) == timestamps.to_datetime(canonical) + delta


def test_aware_datetime_becomes_canonical_and_naive_is_refused() -> None:
    moment = datetime(2026, 11, 24, 10, 30, 0, 250000, tzinfo=timezone(timedelta(hours=-5)))

    assert timestamps.from_datetime(moment) == "2026-11-24T15:30:00.250000000Z"
    with pytest.raises(ValueError):
        timestamps.from_datetime(datetime(2026, 11, 24, 15, 30))


def test_epoch_seconds_of_an_instant() -> None:
    assert timestamps.epoch_seconds("1970-01-01T00:01:40.999999999Z") == 100
