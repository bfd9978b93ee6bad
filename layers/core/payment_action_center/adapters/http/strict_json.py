"""The one way a JSON body is read, by the webhooks and the HTTP API: I-JSON (RFC 7493), bounded
(docs/contract.md §4).

Refused, with the reason in words (`JsonRefused`), before anything is validated or written:
- bytes that are not UTF-8, or text that is not JSON;
- objects and arrays nested deeper than MAX_DEPTH;
- the same name twice in one object (which one would count is a guess);
- integers beyond ±(2^53 - 1), the exact integers of a JSON number everywhere (RFC 7493 §2.2),
  numbers that are not finite (NaN, Infinity), and number literals longer than MAX_NUMBER_CHARS;
- in any string, a name or a value: a lone surrogate (it cannot be stored or sent as UTF-8)
  or a control character other than tab, line feed and carriage return (NUL among them).

Pure Python: no AWS, nothing of the event handler, for the two functions that read bodies.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
MAX_NUMBER_CHARS = 32
# C0 controls but tab, LF and CR; DEL and the C1 controls; lone surrogates.
_REFUSED_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class JsonRefused(ValueError):
    """The text is not the JSON this service reads; the message says why, in words."""


def parse(data: bytes) -> Any:
    """The JSON value of `data`, or JsonRefused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonRefused(f"byte {error.start + 1} is not UTF-8") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_decimal,
            parse_constant=_constant,
        )
    except json.JSONDecodeError as error:
        what = error.msg[:1].lower() + error.msg[1:]
        raise JsonRefused(f"{what} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise JsonRefused(f"nested deeper than {MAX_DEPTH} levels") from None
    _check(value)
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise JsonRefused(f"the name {name!r} appears twice in one object")
        found[name] = value
    return found


def _integer(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise JsonRefused(f"a number of more than {MAX_NUMBER_CHARS} characters")
    value = int(literal)
    if abs(value) > MAX_SAFE_INTEGER:
        raise JsonRefused(f"the integer {literal} is beyond ±{MAX_SAFE_INTEGER}")
    return value


def _decimal(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise JsonRefused(f"a number of more than {MAX_NUMBER_CHARS} characters")
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise JsonRefused(f"the number {literal} is not finite")
    return value


def _constant(literal: str) -> float:
    raise JsonRefused(f"{literal} is not a JSON number")


def _check(value: Any) -> None:
    """Depth and strings, walked without recursion (a hostile depth cannot exhaust the stack)."""
    for depth, item in _walk(value):
        if depth > MAX_DEPTH:
            raise JsonRefused(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str) and (found := _REFUSED_CHARACTERS.search(item)):
            raise JsonRefused(f"a string holds the character U+{ord(found.group()):04X}")


def _walk(value: Any) -> Iterator[tuple[int, Any]]:
    """Every value and every name, with its depth (the top value is at depth 0)."""
    stack: list[tuple[int, Any]] = [(0, value)]
    while stack:
        depth, item = stack.pop()
        yield depth, item
        if isinstance(item, dict):
            stack.extend((depth + 1, name) for name in item)  # names at their object's depth + 1
            stack.extend((depth + 1, child) for child in item.values())
        elif isinstance(item, list):
            stack.extend((depth + 1, child) for child in item)
