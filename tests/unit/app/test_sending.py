"""The shared sending loop (payment_action_center/app/sending.py): each message at most once per
organization, period and key; a refused one released for the next delivery, one without an
answer never sent again (docs/contract.md §4.3). On the in-memory fakes."""

import logging
from dataclasses import dataclass, field

import pytest

from payment_action_center.app.sending import Message, Report, send_once, valid_address
from payment_action_center.ports import Email
from tests.shared.fakes import InMemorySendLedger, RecordingMailer

ORG = "org_demo"
PERIOD = "2026-11-25"
SENDER = "no-reply@pac.example.com"


@dataclass
class World:
    ledger: InMemorySendLedger = field(default_factory=InMemorySendLedger)
    mailer: RecordingMailer = field(default_factory=RecordingMailer)
    rendered: list[str] = field(default_factory=list)

    def message(self, key: str) -> Message:
        def email() -> Email:
            self.rendered.append(key)
            return Email(f"For {key}", f"<p>{key}</p>", key, {})

        return Message(key, f"{key}@example.com", email)

    def deliver(self, *keys: str, period: str = PERIOD) -> Report:
        return send_once(
            [self.message(key) for key in keys],
            Report(ORG, period),
            ledger=self.ledger,
            mailer=self.mailer,
            sender=SENDER,
        )


@pytest.fixture
def world() -> World:
    return World()


def test_each_message_is_claimed_sent_and_marked_sent(world: World) -> None:
    report = world.deliver("a", "b")
    assert report.sent == ["a", "b"] and report.period == PERIOD
    assert world.mailer.to() == ["a@example.com", "b@example.com"]
    assert world.mailer.message(0)["Subject"] == "For a"
    assert world.ledger.rows == {(ORG, PERIOD, "a"): "sent", (ORG, PERIOD, "b"): "sent"}


def test_a_message_already_sent_in_the_period_is_skipped_and_not_even_rendered(
    world: World,
) -> None:
    world.deliver("a")
    world.rendered.clear()
    again = world.deliver("a", "b")
    assert again.already_sent == ["a"] and again.sent == ["b"]
    assert world.rendered == ["b"]
    assert world.mailer.to() == ["a@example.com", "b@example.com"]


def test_another_period_sends_again(world: World) -> None:
    world.deliver("a")
    assert world.deliver("a", period="2026-11-26").sent == ["a"]
    assert len(world.mailer.sent) == 2


def test_a_refused_message_is_released_and_sent_by_the_next_delivery(world: World) -> None:
    world.mailer.refuse = {"b@example.com"}
    first = world.deliver("a", "b", "c")
    assert first.sent == ["a", "c"] and first.failed == ["b"]
    assert world.ledger.rows[(ORG, PERIOD, "b")] == "failed"
    world.mailer.refuse = set()
    second = world.deliver("a", "b", "c")
    assert second.sent == ["b"] and second.already_sent == ["a", "c"]
    assert world.mailer.to() == ["a@example.com", "b@example.com", "c@example.com"]


def test_a_refusal_is_logged_with_its_reason_code_never_the_address(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.mailer.refuse = {"b@example.com"}
    with caplog.at_level(logging.WARNING, logger="payment_action_center.app.sending"):
        world.deliver("b")
    [record] = [r for r in caplog.records if r.getMessage() == "send refused"]
    assert record.__dict__["reason"] == "Throttling"
    assert "b@example.com" not in repr(record.__dict__)


def test_a_message_without_an_answer_keeps_its_claim_and_is_never_sent_again(
    world: World,
) -> None:
    world.mailer.no_answer = {"a@example.com"}
    first = world.deliver("a", "b")
    assert first.unknown == ["a"] and first.sent == ["b"] and first.failed == []
    assert world.ledger.rows[(ORG, PERIOD, "a")] == "sending"
    world.mailer.no_answer = set()
    second = world.deliver("a", "b")
    assert second.sent == [] and second.already_sent == ["a", "b"]
    assert world.mailer.to() == ["b@example.com"]


def test_the_report_counts_each_outcome(world: World) -> None:
    world.deliver("a")
    world.mailer.refuse = {"b@example.com"}
    world.mailer.no_answer = {"c@example.com"}
    report = world.deliver("a", "b", "c", "d")
    report.skipped.append("not an address")
    assert report.counts() == {
        "sent": 1,
        "failed": 1,
        "skipped": 1,
        "already_sent": 1,
        "unknown": 1,
    }


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Admin@Example.COM", "Admin@example.com"),
        ("facturation@centre-démo.example", "facturation@centre-démo.example"),
        ("not an address", None),
        ("", None),
    ],
)
def test_only_an_address_is_sent_to_in_its_normalized_form(text: str, address: str | None) -> None:
    assert valid_address(text) == address
