"""The expiring card notice (docs/contract.md §4.3): once per card and expiry month, wallet cards
only, a
refused send retried without sending twice, December → January, escaping. On moto."""

from email.message import EmailMessage
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.digest_store import DynamoCardNoticeLedger
from payment_action_center.adapters.emails.card_notice import render_card_notice
from payment_action_center.app import card_notices, sending
from payment_action_center.app.work import CardNoticeWork
from payment_action_center.domain import timestamps
from tests.shared import factories
from tests.shared.billing_contract import link, send, upsert_card
from tests.shared.fakes import RecordingMailer
from tests.shared.moto_aws import TABLE

T = "2026-11-20T10:00:00Z"
NOW = "2026-11-25T13:00:00Z"  # the month before December 2026
SENDER = "no-reply@example.com"


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


class World:
    def __init__(self) -> None:
        client = boto3.client("dynamodb")
        self.billing = DynamoBillingStore(client, TABLE)
        self.ledger = DynamoCardNoticeLedger(client, TABLE)
        self.mailer = RecordingMailer()
        self.organization()

    def organization(self, **overrides: Any) -> None:
        send(self.billing, factories.organization_upserted(occurred_at=T, **overrides))

    def card(self, card_id: str, email: str, holder: str = "", **overrides: Any) -> None:
        upsert_card(
            self.billing,
            card_id,
            T,
            data__account_holder={
                "id": holder or f"ah_{card_id}",
                "name": "Éloïse",
                "email": email,
            },
            **overrides,
        )
        link(self.billing, f"sp_{card_id}", card_id, T)

    def run(self, now: str = NOW) -> list[sending.Report]:
        due = card_notices.due(timestamps.canonical(now), self.billing)
        return [
            card_notices.send_notices(
                work,
                billing=self.billing,
                cards=self.billing,
                ledger=self.ledger,
                mailer=self.mailer,
                sender=SENDER,
                render=render_card_notice,
            )
            for work in due
        ]


@pytest.fixture
def world(aws: dict[str, str]) -> World:
    return World()


def test_each_card_is_notified_once_per_expiry_month_across_reruns(world: World) -> None:
    world.card("card_a", "a@example.com")
    world.card("card_b", "b@example.com")
    (report,) = world.run()
    assert report.period == "2026-12"
    assert sorted(report.sent) == ["card_a", "card_b"]
    world.run()
    world.run("2026-11-26T13:00:00Z")
    assert world.mailer.to() == ["a@example.com", "b@example.com"]


def test_a_card_linked_later_in_the_month_is_notified_by_the_next_run(world: World) -> None:
    world.card("card_a", "a@example.com")
    world.run()
    world.card("card_b", "b@example.com")
    world.run("2026-11-26T13:00:00Z")
    assert world.mailer.to() == ["a@example.com", "b@example.com"]


def test_a_card_not_in_the_wallet_is_never_notified(world: World) -> None:
    world.card("card_a", "a@example.com", data__in_wallet=False)
    world.card("card_b", "b@example.com")
    world.run()
    assert world.mailer.to() == ["b@example.com"]


def test_a_card_expiring_this_month_or_in_two_months_is_not_notified(world: World) -> None:
    world.card("card_now", "now@example.com", data__exp_month=11)
    world.card("card_later", "later@example.com", data__exp_month=1, data__exp_year=2027)
    assert world.run() == []
    assert world.mailer.sent == []


def test_a_refused_send_is_retried_next_run_and_nobody_gets_two(world: World) -> None:
    for name in ("a", "b", "c"):
        world.card(f"card_{name}", f"{name}@example.com")
    world.mailer.refuse = {"b@example.com"}
    (report,) = world.run()
    assert report.failed == ["card_b"]
    assert world.mailer.to() == ["a@example.com", "c@example.com"]
    world.mailer.refuse = set()
    (report,) = world.run("2026-11-26T13:00:00Z")
    assert report.sent == ["card_b"]
    assert world.mailer.to() == ["a@example.com", "b@example.com", "c@example.com"]
    world.run("2026-11-27T13:00:00Z")
    assert len(world.mailer.sent) == 3


def test_an_unknown_outcome_keeps_the_claim(world: World) -> None:
    world.card("card_a", "a@example.com")
    world.mailer.no_answer = {"a@example.com"}
    (report,) = world.run()
    assert report.unknown == ["card_a"]
    world.mailer.no_answer = set()
    world.run("2026-11-26T13:00:00Z")
    assert world.mailer.sent == []


def test_december_is_followed_by_january_of_the_next_year(world: World) -> None:
    world.card("card_jan", "jan@example.com", data__exp_month=1, data__exp_year=2027)
    world.card("card_dec", "dec@example.com", data__exp_month=12, data__exp_year=2026)
    (report,) = world.run("2026-12-10T13:00:00Z")
    assert report.period == "2027-01"
    assert world.mailer.to() == ["jan@example.com"]
    text, _ = parts(world.mailer.message())
    assert "01/2027" in text


def test_the_organization_time_zone_decides_next_month(world: World) -> None:
    # 2026-12-01 03:00 UTC is still November 30 in Toronto: next month there is December.
    world.card("card_dec", "dec@example.com")
    world.card("card_jan", "jan@example.com", data__exp_month=1, data__exp_year=2027)
    # The scan reads UTC's next month (January): the Toronto organization is queued for it,
    # and the sender, in Toronto's November, sends December's card.
    (report,) = world.run("2026-12-01T03:00:00Z")
    assert report.period == "2026-12"
    assert world.mailer.to() == ["dec@example.com"]


def test_the_notice_says_what_is_at_stake_with_the_update_link_in_the_locale(
    world: World,
) -> None:
    world.card("card_a", "a@example.com", "ah:a", data__last4="1881", data__brand="mastercard")
    world.run()
    message = world.mailer.message()
    assert message["Subject"] == "Votre carte de crédit expire bientôt"
    assert message["From"] == SENDER
    text, html = parts(message)
    for part in (text, html):
        assert "mastercard" in part and "1881" in part and "12/2026" in part
        assert "Versement" in part
        assert "75,00" in part  # 7500 minor units of CAD in fr-CA
        assert "clients/ah%3Aa/cartes" in part


def test_english_organizations_get_the_english_notice(world: World) -> None:
    world.organization(data__locale="en-CA")
    world.card("card_a", "a@example.com")
    world.run()
    message = world.mailer.message()
    assert message["Subject"] == "Your credit card expires soon"
    text, _ = parts(message)
    assert "Installment" in text and "$75.00" in text


def test_names_are_escaped_in_html_and_kept_on_their_line_in_text(world: World) -> None:
    world.organization(data__name='<script>alert("x")</script>')
    upsert_card(
        world.billing,
        "card_x",
        T,
        data__account_holder={
            "id": "ah_x",
            "name": "<b>Eve</b>\r\nBcc: evil@example.com",
            "email": "x@example.com",
        },
    )
    link(world.billing, "sp_x", "card_x", T)
    world.run()
    text, html = parts(world.mailer.message())
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>Eve</b>" not in html and "&lt;b&gt;Eve&lt;/b&gt;" in html
    assert "\nBcc:" not in text


def test_the_work_message_round_trips() -> None:
    work = CardNoticeWork("org_demo", timestamps.canonical(NOW))
    assert CardNoticeWork.parse(work.body()) == work
