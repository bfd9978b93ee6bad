"""The one JSON reader of the webhooks and the API (adapters/http/strict_json.py): what it
refuses, in words, and that whatever JSON a client can build within the limits reads back."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_action_center.adapters.http.strict_json import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    JsonRefused,
    parse,
)


def nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": "\xff"}', "byte 8 is not UTF-8"),
        (b'{"a": ', "expecting value"),
        (nested(MAX_DEPTH + 2), f"nested deeper than {MAX_DEPTH} levels"),
        (nested(10_000), f"nested deeper than {MAX_DEPTH} levels"),
        (nested(200_000), f"nested deeper than {MAX_DEPTH} levels"),
        (b'{"organization_id": "a", "organization_id": "b"}', "appears twice"),
        (b'{"amount": 9007199254740992}', "beyond"),
        (b'{"amount": -9007199254740992}', "beyond"),
        (b'{"amount": ' + b"9" * 5000 + b"}", "more than 32 characters"),
        (b'{"amount": 1e400}', "not finite"),
        (b'{"amount": NaN}', "NaN is not a JSON number"),
        (b'{"amount": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"name": "a\\u0000b"}', "U+0000"),
        (b'{"name": "a\\u001bb"}', "U+001B"),
        (b'{"name": "a\\u007fb"}', "U+007F"),
        (b'{"name": "\\ud800"}', "U+D800"),
        (b'{"a\\u0000": 1}', "U+0000"),  # a name, not only a value
        (b'[{"deep": ["\\u0000"]}]', "U+0000"),
    ],
)
def test_what_is_refused_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(JsonRefused, match=re.escape(reason)):
        parse(data)


def test_the_limits_themselves_are_accepted() -> None:
    assert parse(nested(MAX_DEPTH + 1)) == json.loads(nested(MAX_DEPTH + 1))
    assert parse(b'{"a": 9007199254740991, "b": -9007199254740991}') == {
        "a": MAX_SAFE_INTEGER,
        "b": -MAX_SAFE_INTEGER,
    }
    assert parse('{"reason": "Doublon\\tsignalé\\r\\npar l\'admin"}'.encode()) == {
        "reason": "Doublon\tsignalé\r\npar l'admin"
    }
    assert parse('{"name": "Renée 😀 ٣"}'.encode()) == {"name": "Renée 😀 ٣"}


printable = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),  # no surrogates
        blacklist_characters=[chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C)]
        + [chr(c) for c in (*range(0x0E, 0x20), *range(0x7F, 0xA0))],
    ),
    max_size=20,
)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | printable,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(printable, children, max_size=4)
    ),
    max_leaves=30,
)


@given(values)
def test_any_json_within_the_limits_reads_back(value: object) -> None:
    assert parse(json.dumps(value).encode()) == value
    assert parse(json.dumps(value, ensure_ascii=False).encode()) == value
