"""The daily digest of failed transactions (docs/contract.md §4.3), in the recipient's locale.

Amounts and dates are formatted by Babel for the locale, dates in the organization's time zone.
The HTML is autoescaped and every value stripped of control characters (emails/common.py).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent

from payment_action_center.adapters.emails.common import (
    amount_in_words,
    environment,
    require_http_url,
)
from payment_action_center.adapters.emails.translations import DIGEST, DigestWording
from payment_action_center.domain.auto_retry import ScheduledRetries
from payment_action_center.domain.billing import Organization
from payment_action_center.domain.recovery import RecoveryFigures
from payment_action_center.domain.timestamps import canonical, to_datetime
from payment_action_center.ports import DigestLine, Email

HOLDER_PARAMETER = "account_holder_id"
SUPPORTED_LOCALES = tuple(DIGEST)


def render_digest(
    *,
    organization: Organization,
    locale: str,
    lines: Sequence[DigestLine],
    preferences_url: str,
    unsubscribe_url: str,
    window_end: str,
    max_rows: int = 200,
    scheduled: ScheduledRetries | None = None,
    recovery: RecoveryFigures | None = None,
) -> Email:
    """The digest for one recipient: newest failure first, at most `max_rows` rows.

    ValueError for a locale other than fr-CA / en-CA, a URL that is not absolute http(s), or a
    negative `max_rows`.
    """
    wording = DIGEST.get(locale)
    if wording is None:
        raise ValueError(f"no digest wording for locale {locale!r}; one of {SUPPORTED_LOCALES}")
    if max_rows < 0:
        raise ValueError("max_rows must not be negative")
    for url in (organization.console_url, preferences_url, unsubscribe_url):
        require_http_url(url)
    babel_locale = Locale.parse(locale, sep="-")
    zone = ZoneInfo(organization.time_zone)
    ordered = sorted(lines, key=lambda line: canonical(line.failed_at), reverse=True)
    shown = ordered[:max_rows]
    hidden = len(ordered) - len(shown)
    context: dict[str, Any] = {
        "locale": locale,
        "t": wording,
        "organization_name": organization.name,
        "window_end": local_time(window_end, zone, babel_locale),
        "count": _counted(wording.count, len(ordered), babel_locale),
        "rows": [_row(line, organization, wording, zone, babel_locale) for line in shown],
        "more": _counted(wording.more, hidden, babel_locale) if hidden else None,
        "console_url": organization.console_url,
        "preferences_url": preferences_url,
        "scheduled": _scheduled(wording, scheduled, babel_locale),
        "recovery": _recovery(wording, recovery, babel_locale),
    }
    templates = environment()
    return Email(
        subject=wording.subject,
        html=templates.get_template("digest.html.j2").render(context),
        text=templates.get_template("digest.txt.j2").render(context),
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def holder_console_url(console_url: str, account_holder_id: str) -> str:
    """The Action Center filtered on one account holder: the console URL, its query kept, with
    `account_holder_id` set (quoted) in place of any it had."""
    parts = urlsplit(console_url)
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and unquote_plus(pair.partition("=")[0]) != HOLDER_PARAMETER
    ]
    kept.append(f"{HOLDER_PARAMETER}={quote(account_holder_id, safe='')}")
    return urlunsplit(parts._replace(query="&".join(kept)))


def local_time(instant: str, zone: ZoneInfo, locale: Locale) -> str:
    """A date, a time to the minute and the zone's short name, as the locale writes them:
    "24 nov. 2026, 07 h 30 HNP", "Nov 24, 2026, 7:30 a.m. PST"."""
    date_pattern = locale.date_formats["medium"].pattern
    time_pattern = locale.time_formats["short"].pattern
    pattern = str(locale.datetime_formats["medium"]).format(time_pattern, date_pattern)
    return format_datetime(
        to_datetime(canonical(instant)), f"{pattern} z", tzinfo=zone, locale=locale
    )


@dataclass(frozen=True)
class _Row:
    holder_name: str
    holder_url: str
    amount: str
    type: str
    payment_id: str
    failed_at: str
    recommended_action: str | None  # None: the line does not say


def _row(
    line: DigestLine,
    organization: Organization,
    wording: DigestWording,
    zone: ZoneInfo,
    locale: Locale,
) -> _Row:
    return _Row(
        holder_name=line.holder_name,
        holder_url=holder_console_url(organization.console_url, line.holder_id),
        amount=amount_in_words(line.amount, line.currency, locale),
        type=wording.types[line.type],
        payment_id=line.payment_id,
        failed_at=local_time(line.failed_at, zone, locale),
        recommended_action=(
            wording.actions[line.recommended_action] if line.recommended_action else None
        ),
    )


def _scheduled(
    wording: DigestWording, scheduled: ScheduledRetries | None, locale: Locale
) -> str | None:
    """The line "Retries scheduled today: N · tomorrow: N · the day after: N", while the
    automatic retry policy is on (`scheduled` given); None otherwise."""
    if scheduled is None:
        return None
    return wording.scheduled.format(
        today=format_decimal(scheduled.today, locale=locale),
        tomorrow=format_decimal(scheduled.tomorrow, locale=locale),
        day_after=format_decimal(scheduled.day_after, locale=locale),
    )


def _recovery(
    wording: DigestWording, recovery: RecoveryFigures | None, locale: Locale
) -> str | None:
    """The line "Last 30 days: $4,210.00 recovered of $6,000.00 failed (70%)", each currency
    that had failures; None without figures."""
    if recovery is None:
        return None
    days = (date.fromisoformat(recovery.last_day) - date.fromisoformat(recovery.first_day)).days
    parts = [
        wording.recovery.format(
            days=format_decimal(days + 1, locale=locale),
            recovered=amount_in_words(figures.recovered.amount, figures.currency, locale),
            failed=amount_in_words(figures.failed.amount, figures.currency, locale),
            rate=format_percent(figures.recovery_rate, locale=locale),
        )
        for figures in recovery.currencies
        if figures.recovery_rate is not None
    ]
    return wording.recovery_separator.join(parts) or None


def _counted(phrases: Mapping[str, str], count: int, locale: Locale) -> str:
    phrase = phrases.get(locale.plural_form(count), phrases["other"])
    return phrase.format(count=format_decimal(count, locale=locale))
