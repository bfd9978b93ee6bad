"""The expiring card notice (docs/contract.md §4.3), to the account holder, in the organization's
locale.

The same environment as the digest (emails/common.py): the HTML template is autoescaped and every
value is first stripped of control characters; amounts and dates are formatted by Babel.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date

from payment_action_center.adapters.emails.common import (
    amount_in_words,
    environment,
    require_http_url,
)
from payment_action_center.adapters.emails.translations import CARD_NOTICE
from payment_action_center.domain.billing import HOLDER_PLACEHOLDER, Organization
from payment_action_center.domain.cards import ExpiringCard
from payment_action_center.domain.timestamps import canonical, to_datetime
from payment_action_center.ports import Email


@dataclass(frozen=True)
class _Payment:
    kind: str
    next_date: str
    amount: str


def card_update_url(organization: Organization, account_holder_id: str) -> str:
    """The organization's card-update page for the account holder (the id quoted)."""
    return organization.card_update_url_template.replace(
        HOLDER_PLACEHOLDER, quote(account_holder_id, safe="")
    )


def render_card_notice(*, organization: Organization, card: ExpiringCard) -> Email:
    """ValueError for a locale other than fr-CA / en-CA or an update URL that is not http(s)."""
    locale = organization.locale
    wording = CARD_NOTICE.get(locale)
    if wording is None:
        raise ValueError(f"no card notice wording for locale {locale!r}")
    update_url = card_update_url(organization, card.account_holder.id)
    require_http_url(update_url)
    babel_locale = Locale.parse(locale, sep="-")
    zone = ZoneInfo(organization.time_zone)
    context: dict[str, Any] = {
        "locale": locale,
        "t": wording,
        "organization_name": organization.name,
        "holder_name": card.account_holder.name,
        "brand": card.brand,
        "last4": card.last4,
        "expiry": f"{card.exp_month:02d}/{card.exp_year:04d}",
        "payments": [
            _Payment(
                kind=wording.kinds.get(p.kind, str(p.kind)),
                next_date=format_date(
                    to_datetime(canonical(p.next_payment_at)).astimezone(zone).date(),
                    "long",
                    locale=babel_locale,
                ),
                amount=amount_in_words(p.amount, p.currency, babel_locale),
            )
            for p in card.scheduled_payments
        ],
        "update_url": update_url,
    }
    templates = environment()
    return Email(
        subject=wording.subject,
        html=templates.get_template("card_notice.html.j2").render(context),
        text=templates.get_template("card_notice.txt.j2").render(context),
        headers={},
    )
