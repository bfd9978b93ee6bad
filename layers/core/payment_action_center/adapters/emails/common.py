"""What the two emails share (emails/digest.py, emails/card_notice.py): one
Jinja2 environment, the URL check and Babel's amounts.

The HTML templates are autoescaped; in both parts every value is first stripped of control
characters, so a name can neither inject markup nor break a line of the text part.
"""

import unicodedata
from decimal import Decimal
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from babel import Locale
from babel.numbers import format_currency, get_currency_precision
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.nodes import EvalContext
from jinja2.utils import pass_eval_context
from markupsafe import Markup

_TEMPLATES = Path(__file__).parent / "templates"


def amount_in_words(amount: int, currency: str, locale: Locale) -> str:
    """An amount in minor units, with the currency's own number of decimals."""
    major = Decimal(amount).scaleb(-get_currency_precision(currency))
    return format_currency(major, currency, locale=locale)


def require_http_url(url: str) -> None:
    """ValueError for a URL that is not absolute http(s), or that holds spaces or controls."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        raise ValueError(f"a URL must not hold spaces or control characters: {url!r}")


# Line and paragraph separators become spaces, so that words stay apart on one line.
_BREAKS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")
# Bidirectional overrides and isolates could make a name display as something else.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REMOVED_CATEGORIES = frozenset({"Cc", "Cs"})


def clean(text: str) -> str:
    """Text for one line of an email: control characters, lone surrogates and bidi overrides
    removed, line breaks turned into spaces."""
    return "".join(
        " " if char in _BREAKS else char
        for char in text
        if char in _BREAKS
        or (char not in _BIDI and unicodedata.category(char) not in _REMOVED_CATEGORIES)
    )


def _finalize(value: object) -> object:
    """Every value a template prints goes through here first."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return clean(value)
    return value


@pass_eval_context
def _fill(eval_context: EvalContext, phrase: str, **values: object) -> str:
    """A translated phrase with its placeholders filled: values escaped in HTML, cleaned in both."""
    cleaned = {name: clean(str(value)) for name, value in values.items()}
    if eval_context.autoescape:
        return Markup.escape(phrase).format(**cleaned)
    return phrase.format(**cleaned)


@cache
def environment() -> Environment:
    """The templates of emails/templates, loaded once."""
    templates = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        # *.html.j2 is escaped; *.txt.j2 is not (it is no markup); anything else is, to be safe.
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",),
            disabled_extensions=("txt.j2",),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    templates.filters["fill"] = _fill
    return templates
