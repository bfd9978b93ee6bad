"""The daily digest email (docs/contract.md §4.3): wording, Babel formatting, links, escaping,
MIME."""

import email
import email.policy
import re
from dataclasses import replace
from decimal import Decimal
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.numbers import format_currency

from payment_action_center.adapters.aws.mime import mime_message
from payment_action_center.adapters.emails.digest import render_digest
from payment_action_center.adapters.emails.translations import DIGEST
from payment_action_center.domain.billing import Organization
from payment_action_center.domain.declines import RecommendedAction
from payment_action_center.domain.entries import EntryType
from payment_action_center.ports import DigestLine, Email
from tests.unit.infra.test_console_recommendations import messages as console_messages

CONSOLE = "https://console.example.com/finance/payment-action-center?tab=failed"
PREFERENCES = "https://console.example.com/account/email-preferences"
UNSUBSCRIBE = "https://pac.example.com/unsubscribe?token=tok_abc123"
WINDOW_END = "2026-11-25T15:00:00.000000000Z"

SUBJECTS = {
    "fr-CA": "Notification importante — Échec de transaction",
    "en-CA": "Important notification — Transaction failure",
}
MANAGE = {"fr-CA": "Gérer mes transactions échouées", "en-CA": "Manage my failed transactions"}
PREFERENCES_LINK = {
    "fr-CA": "Gérer mes préférences de courriel",
    "en-CA": "Manage email preferences",
}
MORE_LINK = {
    "fr-CA": "Les voir dans le Centre d’action de paiement",  # noqa: RUF001 (the wording)
    "en-CA": "See them in the Payment Action Center",
}
TYPE_WORDS = {
    "fr-CA": {
        EntryType.CREDIT_CARD_REFUND: "Remboursement par carte de crédit",
        EntryType.ECHECK_PAYMENT: "Paiement par chèque électronique",
        EntryType.INSTALLMENT: "Versement",
        EntryType.SUBSCRIPTION: "Paiement d’abonnement",  # noqa: RUF001 (the wording)
    },
    "en-CA": {
        EntryType.CREDIT_CARD_REFUND: "Credit card refund",
        EntryType.ECHECK_PAYMENT: "E-check payment",
        EntryType.INSTALLMENT: "Installment",
        EntryType.SUBSCRIPTION: "Subscription payment",
    },
}
RECOMMENDED = {"fr-CA": "Action recommandée", "en-CA": "Recommended action"}
ACTION_WORDS = {
    "fr-CA": {
        RecommendedAction.RETRY_LATER: "Réessayer plus tard",
        RecommendedAction.WAIT_FOR_PAYDAY: "Attendre le jour de paie, puis réessayer",
    },
    "en-CA": {
        RecommendedAction.RETRY_LATER: "Retry later",
        RecommendedAction.WAIT_FOR_PAYDAY: "Wait for payday, then retry",
    },
}
LOCALES = ["fr-CA", "en-CA"]


def organization(**overrides: Any) -> Organization:
    fields: dict[str, Any] = {
        "id": "org_demo",
        "name": "Centre récréatif Démo",
        "billing_contact_email": "facturation@demo.example.com",
        "locale": "fr-CA",
        "time_zone": "America/Toronto",
        "console_url": CONSOLE,
        "upcoming_payments_url_template": "https://app.example.com/c/{account_holder_id}/upcoming",
        "client_url_template": "https://app.example.com/c/{account_holder_id}",
        "card_update_url_template": "https://app.example.com/wallet",
        "state_at": "2026-11-01T00:00:00.000000000Z",
    }
    return Organization(**(fields | overrides))


def line(**overrides: Any) -> DigestLine:
    fields: dict[str, Any] = {
        "holder_id": "ah_1",
        "holder_name": "Éloïse Tremblay",
        "amount": 12500,
        "currency": "CAD",
        "type": EntryType.INSTALLMENT,
        "payment_id": "pay_00001",
        "failed_at": "2026-11-24T15:30:00.000000000Z",
    }
    return DigestLine(**(fields | overrides))


def digest(
    lines: list[DigestLine] | None = None,
    *,
    locale: str = "fr-CA",
    org: Organization | None = None,
    **options: Any,
) -> Email:
    return render_digest(
        organization=org or organization(),
        locale=locale,
        lines=[line()] if lines is None else lines,
        preferences_url=PREFERENCES,
        unsubscribe_url=UNSUBSCRIBE,
        window_end=WINDOW_END,
        **options,
    )


def spaces_normalised(text: str) -> str:
    """Babel separates groups and units with no-break spaces (U+00A0, U+202F)."""
    return re.sub(r"[\u00a0\u202f]", " ", text)


class HtmlReading(HTMLParser):
    """What a mail client makes of the HTML: elements, links with their text, table rows."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.links: list[tuple[str, str]] = []
        self.body_rows = 0
        self._href: str | None = None
        self._link_text: list[str] = []
        self._in_tbody = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self._href = dict(attrs)["href"]
            self._link_text = []
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.body_rows += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._link_text)))
            self._href = None
        elif tag == "tbody":
            self._in_tbody = False

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._link_text.append(data)

    def hrefs_of(self, text: str) -> list[str]:
        return [href for href, link_text in self.links if link_text == text]

    def has(self, tag: str) -> bool:
        return any(name == tag for name, _ in self.tags)


# --------------------------------------------------------------------------- wording


@pytest.mark.parametrize("locale", LOCALES)
def test_subject_is_in_the_recipients_locale(locale: str) -> None:
    assert digest(locale=locale).subject == SUBJECTS[locale]


def test_intro_names_the_organization_and_the_last_24_hours() -> None:
    french = digest(locale="fr-CA")
    english = digest(locale="en-CA")

    assert "transactions échouées dans les dernières 24 heures pour Centre récréatif Démo" in (
        french.text
    )
    assert "failed in the last 24 hours for Centre récréatif Démo" in english.text
    assert "dernières 24 heures pour Centre récréatif Démo" in french.html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("entry_type", list(EntryType))
def test_type_is_written_in_words(locale: str, entry_type: EntryType) -> None:
    email_ = digest([line(type=entry_type)], locale=locale)

    words = TYPE_WORDS[locale][entry_type]
    assert words in email_.text
    assert words in email_.html
    assert str(entry_type) not in email_.text


def text_fields(text: str, payment_id: str) -> dict[str, str]:
    """The text part's fields of the line with `payment_id`, by label."""
    (block,) = [b for b in text.split("\n\n") if payment_id in b]
    fields = {}
    for field_line in block.splitlines()[1:]:
        label, _, value = field_line.strip().partition(": ")
        fields[label.rstrip("\u00a0")] = value
    return fields


def action_cells(html: str) -> list[str]:
    """The last cell of each body row: the recommended action."""
    body = html.partition("<tbody>")[2].partition("</tbody>")[0]
    return [
        row.rpartition("<td ")[2].partition(">")[2].partition("</td>")[0]
        for row in body.split("</tr>")[:-1]
    ]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    "action", [RecommendedAction.RETRY_LATER, RecommendedAction.WAIT_FOR_PAYDAY]
)
def test_each_line_says_what_to_do_in_the_recipients_language(
    locale: str, action: RecommendedAction
) -> None:
    email_ = digest([line(recommended_action=action)], locale=locale)

    words = ACTION_WORDS[locale][action]
    assert text_fields(email_.text, "pay_00001")[RECOMMENDED[locale]] == words
    assert action_cells(email_.html) == [words]
    assert f">{RECOMMENDED[locale]}</th>" in email_.html
    assert str(action) not in email_.text


@pytest.mark.parametrize("locale", LOCALES)
def test_a_line_without_a_recommendation_shows_none(locale: str) -> None:
    email_ = digest(
        [
            line(payment_id="pay_known", recommended_action=RecommendedAction.RETRY_LATER),
            line(payment_id="pay_unknown", recommended_action=None),
        ],
        locale=locale,
    )

    assert RECOMMENDED[locale] not in text_fields(email_.text, "pay_unknown")
    assert RECOMMENDED[locale] in text_fields(email_.text, "pay_known")
    assert sorted(action_cells(email_.html)) == [
        "",
        ACTION_WORDS[locale][RecommendedAction.RETRY_LATER],
    ]


def test_the_email_says_each_action_as_the_console_does() -> None:
    """The console's `recommended.<action>` message less its "Recommended:" prefix, which the
    email's column header says; the email writes the typographic apostrophe."""
    console = console_messages()
    for locale, prefix in (("fr-CA", "Recommandé : "), ("en-CA", "Recommended: ")):
        for action in RecommendedAction:
            said = console[locale][action].removeprefix(prefix)
            emailed = DIGEST[locale].actions[action].replace("\u2019", "'")
            assert emailed == said[:1].upper() + said[1:], (locale, action)


# --------------------------------------------------------------------------- Babel formatting


@pytest.mark.parametrize(("locale", "shown"), [("fr-CA", "1 234,56 $"), ("en-CA", "$1,234.56")])
def test_amount_in_minor_units_is_formatted_for_the_locale(locale: str, shown: str) -> None:
    email_ = digest([line(amount=123456, currency="CAD")], locale=locale)

    babel = format_currency(Decimal("1234.56"), "CAD", locale=locale.replace("-", "_"))
    assert spaces_normalised(babel) == shown
    assert babel in email_.text
    assert babel in email_.html


@pytest.mark.parametrize("locale", LOCALES)
def test_yen_amount_has_no_decimals(locale: str) -> None:
    email_ = digest([line(amount=123456, currency="JPY")], locale=locale)

    babel = format_currency(Decimal(123456), "JPY", locale=locale.replace("-", "_"))
    assert babel in email_.text
    assert babel in email_.html
    assert re.search(r"123.456[.,]00", spaces_normalised(email_.text)) is None
    assert "1234,56" not in spaces_normalised(email_.text).replace(" ", "")


@pytest.mark.parametrize(
    ("time_zone", "locale", "shown"),
    [
        ("America/Vancouver", "en-CA", "Nov 24, 2026, 7:30 a.m. PST"),
        ("America/Halifax", "en-CA", "Nov 24, 2026, 11:30 a.m. AST"),
        ("America/Vancouver", "fr-CA", "24 nov. 2026, 07 h 30 HNP"),
        ("America/Halifax", "fr-CA", "24 nov. 2026, 11 h 30 HNA"),
    ],
)
def test_failure_time_is_shown_in_the_organizations_time_zone(
    time_zone: str, locale: str, shown: str
) -> None:
    email_ = digest(
        [line(failed_at="2026-11-24T15:30:00.000000000Z")],
        locale=locale,
        org=organization(time_zone=time_zone),
    )

    assert shown in spaces_normalised(email_.text)
    assert shown in spaces_normalised(email_.html)


def test_summer_time_is_taken_into_account() -> None:
    email_ = digest(
        [line(failed_at="2026-07-01T15:30:00.000000000Z")],
        locale="en-CA",
        org=organization(time_zone="America/Vancouver"),
    )

    assert "Jul 1, 2026, 8:30 a.m. PDT" in spaces_normalised(email_.text)


def test_newest_failure_comes_first() -> None:
    older = line(holder_name="Older Person", failed_at="2026-11-24T10:00:00.000000000Z")
    newer = line(holder_name="Newer Person", failed_at="2026-11-24T20:00:00.000000000Z")

    text = digest([older, newer]).text

    assert text.index("Newer Person") < text.index("Older Person")


# --------------------------------------------------------------------------- links


def test_each_holder_links_to_the_console_filtered_on_them_with_the_query_kept() -> None:
    holder_id = "ah 1/é&x=y"
    email_ = digest([line(holder_id=holder_id, holder_name="Zoé Gagnon")], locale="en-CA")

    (href,) = HtmlReading(email_.html).hrefs_of("Zoé Gagnon")
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CONSOLE.partition("?")[0]
    assert parse_qs(parts.query) == {"tab": ["failed"], "account_holder_id": [holder_id]}
    assert "account_holder_id=ah%201%2F%C3%A9%26x%3Dy" in href
    assert f"{href}\n" in email_.text  # the text part writes the link out


def test_holder_link_on_a_console_without_query() -> None:
    email_ = digest(org=organization(console_url="https://console.example.com/pac"))

    (href,) = HtmlReading(email_.html).hrefs_of("Éloïse Tremblay")
    assert href == "https://console.example.com/pac?account_holder_id=ah_1"


@pytest.mark.parametrize("locale", LOCALES)
def test_manage_link_opens_the_console_unfiltered(locale: str) -> None:
    email_ = digest(locale=locale)

    assert HtmlReading(email_.html).hrefs_of(MANAGE[locale]) == [CONSOLE]
    assert re.search(rf"{MANAGE[locale]}\s?: {re.escape(CONSOLE)}\n", email_.text)


@pytest.mark.parametrize("locale", LOCALES)
def test_footer_links_to_the_preferences_and_says_why(locale: str) -> None:
    email_ = digest(locale=locale)

    assert HtmlReading(email_.html).hrefs_of(PREFERENCES_LINK[locale]) == [PREFERENCES]
    assert PREFERENCES in email_.text
    why = "contact de facturation" if locale == "fr-CA" else "billing contact"
    assert why in email_.text
    assert why in email_.html


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        digest(org=organization(console_url="javascript:alert(1)"))
    with pytest.raises(ValueError):
        render_digest(
            organization=organization(),
            locale="en-CA",
            lines=[line()],
            preferences_url=PREFERENCES,
            unsubscribe_url="https://pac.example.com/u\r\nBcc: x@example.com",
            window_end=WINDOW_END,
        )


def test_an_unknown_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="locale"):
        digest(locale="de-DE")


# --------------------------------------------------------------------------- many failures


@pytest.mark.parametrize(
    ("count", "locale", "more"),
    [(201, "en-CA", "and 1 more"), (201, "fr-CA", "et 1 autre"), (203, "fr-CA", "et 3 autres")],
)
def test_beyond_200_rows_the_rest_are_counted_with_the_console_link(
    count: int, locale: str, more: str
) -> None:
    lines = [
        line(holder_id=f"ah_{n}", holder_name=f"Holder {n}", payment_id=f"pay_{n:05d}")
        for n in range(count)
    ]

    email_ = digest(lines, locale=locale)

    reading = HtmlReading(email_.html)
    assert reading.body_rows == 200
    assert len(re.findall(r"^\d+\. Holder", email_.text, flags=re.MULTILINE)) == 200
    assert more in email_.html
    assert f"{more} — " in email_.text
    assert reading.hrefs_of(MORE_LINK[locale]) == [CONSOLE]


def test_exactly_200_rows_mention_no_more() -> None:
    lines = [line(holder_id=f"ah_{n}", payment_id=f"pay_{n}") for n in range(200)]

    email_ = digest(lines, locale="en-CA")

    assert HtmlReading(email_.html).body_rows == 200
    assert not re.search(r"and \d+ more", email_.text)
    assert not re.search(r"and \d+ more", email_.html)


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", 'O\'Brien "Bob" & Co'])
def test_a_hostile_name_is_escaped_in_html_and_kept_in_text(name: str) -> None:
    email_ = digest([line(holder_name=name)], locale="en-CA")

    reading = HtmlReading(email_.html)
    assert not reading.has("script")
    assert len(reading.hrefs_of(name)) == 1  # shown as text, inside its link
    assert name not in email_.html
    assert f"1. {name}\n" in email_.text


def test_markup_in_a_name_is_escaped_exactly() -> None:
    html = digest([line(holder_name="<script>alert(1)</script>")]).html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    html = digest([line(holder_name='O\'Brien "Bob" & Co')]).html
    assert "O&#39;Brien &#34;Bob&#34; &amp; Co" in html


def test_an_organization_name_with_markup_is_escaped() -> None:
    email_ = digest(org=organization(name="Club <b>Élan</b> & Fils"))

    assert "<b>" not in email_.html
    assert "Club &lt;b&gt;Élan&lt;/b&gt; &amp; Fils" in email_.html
    assert "Club <b>Élan</b> & Fils" in email_.text


def test_control_characters_are_removed_so_a_name_stays_on_its_line() -> None:
    name = "Evil\r\nBcc: attacker@example.com\x1b[31m\x00\u202eTrap"

    email_ = digest([line(holder_name=name, payment_id="pay\n_1")], locale="en-CA")

    assert not re.search(r"^Bcc:", email_.text, flags=re.MULTILINE)
    for char in ("\x1b", "\x00", "\u202e", "\r"):
        assert char not in email_.text
        assert char not in email_.html
    assert "1. Evil  Bcc: attacker@example.com[31mTrap\n" in email_.text
    assert "Payment ID: pay _1\n" in email_.text


def test_text_part_is_not_html_escaped() -> None:
    email_ = digest(
        [line(holder_name="A & B")],
        org=organization(console_url="https://console.example.com/pac?a=1&b=2"),
    )

    assert "&amp;" not in email_.text
    assert "https://console.example.com/pac?a=1&b=2&account_holder_id=ah_1" in email_.text


def test_urls_in_attributes_are_escaped() -> None:
    console = 'https://console.example.com/pac?a=1&b="2"'
    email_ = digest(org=organization(console_url=console), locale="en-CA")

    assert 'href="https://console.example.com/pac?a=1&amp;b=&#34;2&#34;"' in email_.html
    assert HtmlReading(email_.html).hrefs_of(MANAGE["en-CA"]) == [console]


@pytest.mark.parametrize("locale", LOCALES)
def test_html_is_accessible(locale: str) -> None:
    reading = HtmlReading(digest(locale=locale).html)

    assert ("html", {"lang": locale}) in reading.tags
    column_headers = [attrs for tag, attrs in reading.tags if tag == "th" and attrs.get("scope")]
    assert sum(1 for attrs in column_headers if attrs["scope"] == "col") == 6
    assert sum(1 for attrs in column_headers if attrs["scope"] == "row") == 1
    assert all(
        attrs.get("role") == "presentation"
        for tag, attrs in reading.tags
        if tag == "table" and attrs.get("role") is not None
    )


# --------------------------------------------------------------------------- headers and MIME


def test_headers_allow_one_click_unsubscribe() -> None:
    assert digest().headers == {
        "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("locale", LOCALES)
def test_mime_message_parses_back_with_both_parts_in_utf8(locale: str) -> None:
    email_ = digest(locale=locale)

    message = parsed(
        mime_message(
            email_,
            sender="Centre d’action de paiement <no-reply@pac.example.com>",  # noqa: RUF001
            to="facturation@demo.example.com",
        )
    )

    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == SUBJECTS[locale]
    assert message["From"].addresses[0].addr_spec == "no-reply@pac.example.com"
    assert message["To"] == "facturation@demo.example.com"
    assert message["Date"] is not None
    assert message["Message-ID"].endswith("@pac.example.com>")
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = message.iter_parts()
    assert [part.get_content_type() for part in (text, html)] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in (text, html)] == ["utf-8", "utf-8"]
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert text.get_content().replace("\r\n", "\n") == email_.text
    assert html.get_content().replace("\r\n", "\n") == email_.html


def test_mime_message_is_7bit_with_crlf_line_ends() -> None:
    raw = mime_message(digest(), sender="no-reply@pac.example.com", to="a@example.com")

    raw.decode("ascii")
    assert b"\r\n" in raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_a_long_unsubscribe_url_stays_one_readable_header() -> None:
    long_url = "https://pac.example.com/unsubscribe?token=" + "a" * 400
    email_ = replace(digest(), headers={"List-Unsubscribe": f"<{long_url}>"})

    raw = mime_message(email_, sender="no-reply@pac.example.com", to="a@example.com")

    assert f"List-Unsubscribe: <{long_url}>\r\n".encode() in raw
    assert parsed(raw)["List-Unsubscribe"] == f"<{long_url}>"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nBcc: attacker@example.com"},
        {"X-Evil": "a\nb"},
        {"Bcc": "attacker@example.com"},
        {"Subject": "another subject"},
        {"Bad Name": "x"},
    ],
)
def test_a_header_that_could_inject_or_override_is_refused(headers: dict[str, str]) -> None:
    email_ = replace(digest(), headers=headers)

    with pytest.raises(ValueError):
        mime_message(email_, sender="no-reply@pac.example.com", to="a@example.com")
