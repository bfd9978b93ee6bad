"""The digest's first line: the recovery figures of the last 30 days (docs/contract.md §4.3),
from the counters on moto, in both languages, for one more Query per organization."""

from email.message import EmailMessage

import boto3
import pytest

from payment_action_center.adapters.dynamodb.recovery_store import DynamoRecoveryCounters
from payment_action_center.adapters.emails.digest import render_digest
from payment_action_center.app import digest
from payment_action_center.app.work import DigestWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import (
    PAYMENT_PROCESSOR,
    RETRY_WORKER,
    AuditEvent,
    Caller,
    Method,
    entry_id_for,
)
from tests.unit.app.test_digest import LINKS, World

ADMIN = Caller("org_rec", "user_1", "admin@example.com", frozenset({"billing_admin"}))
WINDOW_END = "2026-11-25T12:00:00Z"


def fail(world: World, payment: str, at: str, amount: int) -> None:
    world.failure(
        "org_rec",
        at,
        data__payment_id=payment,
        data__amount=amount,
        data__invoice_items=[{"invoice_id": "inv", "item_id": payment, "amount": amount}],
    )


def recover(world: World, payment: str, at: str) -> None:
    entry = world.entries.get("org_rec", entry_id_for("org_rec", payment))
    when = timestamps.canonical(at)
    pending = entry.start_retry(ADMIN.actor, when)
    world.entries.transition(pending, AuditEvent(when, "retry_requested", ADMIN.actor))
    sent = pending.charge_sent(when, Method.CREDIT_CARD)
    world.entries.transition(sent, AuditEvent(when, "charge_sent", RETRY_WORKER))
    done = sent.recovered(f"{payment}_again", when, when)
    world.entries.transition(done, AuditEvent(when, "recovered", PAYMENT_PROCESSOR))


@pytest.fixture
def world(aws: dict[str, str]) -> World:
    w = World()
    w.organization("org_rec", "America/Toronto", data__locale="fr-CA")
    w.subscribe("org_rec", "user_en", "en@example.com", locale="en-CA")
    fail(w, "pay_old", "2026-10-26T23:00:00Z", 99900)  # UTC day before the 30 days
    fail(w, "pay_a", "2026-10-27T01:00:00Z", 400000)
    recover(w, "pay_a", "2026-10-28T01:00:00Z")
    fail(w, "pay_b", "2026-11-20T10:00:00Z", 21000)
    recover(w, "pay_b", "2026-11-21T10:00:00Z")
    fail(w, "pay_c", "2026-11-25T05:00:00Z", 179000)  # in the digest's window, open
    return w


def send(world: World, counters: DynamoRecoveryCounters | None) -> None:
    digest.send_digest(
        DigestWork("org_rec", timestamps.canonical(WINDOW_END), "2026-11-25"),
        failures=world.digests,
        billing=world.billing,
        preferences=world.digests,
        ledger=world.digests,
        mailer=world.mailer,
        sender="no-reply@pac.example.com",
        links=LINKS,
        render=render_digest,
        recovery=counters,
    )


def parts(message: EmailMessage) -> tuple[list[str], str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    lines = [line for line in text.get_content().splitlines() if line.strip()]
    return lines, html.get_content()


def test_the_digest_opens_with_the_last_30_days_in_each_language(world: World) -> None:
    send(world, DynamoRecoveryCounters(boto3.client("dynamodb"), "pac-unit"))
    by_address = {to: world.mailer.message(n) for n, (to, _) in enumerate(world.mailer.sent)}
    english, english_html = parts(by_address["en@example.com"])
    french, _ = parts(by_address["facturation@centre-demo.example"])
    # 4,000.00 + 210.00 recovered of 4,000.00 + 210.00 + 1,790.00 failed: 70.17 %.
    assert english[2] == "Last 30 days: $4,210.00 recovered of $6,000.00 failed (70%)"
    assert french[2] == (
        "30 derniers jours\u00a0: 4\u00a0210,00\u00a0$ récupérés sur 6\u00a0000,00\u00a0$ "
        "en échec (70\u00a0%)"
    )
    assert "data-recovery>Last 30 days: $4,210.00 recovered" in english_html
    assert english_html.index("data-recovery") < english_html.index("<table width")


def test_the_figures_cost_the_digest_one_query(world: World) -> None:
    client = boto3.client("dynamodb")
    calls: list[str] = []
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    send(world, DynamoRecoveryCounters(client, "pac-unit"))
    assert calls == ["Query"]
    assert all("data-recovery" in m.as_string() for m in map(world.mailer.message, range(2)))


def test_without_the_counters_the_digest_has_no_such_line(world: World) -> None:
    send(world, None)
    lines, html = parts(world.mailer.message(0))
    assert not any("30" in line and "$" in line for line in lines[:4])
    assert "data-recovery" not in html
