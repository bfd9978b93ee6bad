"""`make send-event EVENT=events/<file>.json` (tools/send_event.py) against the local stack: the
samples of events/, signed now, are what the stack accepts and shows. Each test sends its own
payment ids, so the tests hold in any order."""

import uuid
from pathlib import Path

import pytest

from tools.send_event import NotSendable, main, send

EVENTS = Path(__file__).resolve().parents[2] / "events"
ORGANIZATION = EVENTS / "webhooks_organization_upserted.json"
REFUND_FAILED = EVENTS / "webhooks_refund_failed.json"


def new_payment_id() -> str:
    return f"ref_{uuid.uuid4().hex[:12]}"


def test_a_refund_sample_sent_now_becomes_an_entry_of_its_organization(stack, api, token):
    organization = f"org_send_{uuid.uuid4().hex[:8]}"
    payment_id = new_payment_id()
    assert send(ORGANIZATION, stack.url, data={"organization_id": organization}).json() == {
        "status": "accepted"
    }

    answer = send(
        REFUND_FAILED, stack.url, data={"organization_id": organization, "payment_id": payment_id}
    )

    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    listed = api.get("/transactions", token=token(org_id=organization)).json()["items"]
    assert [(entry["payment_id"], entry["type"]) for entry in listed] == [
        (payment_id, "credit_card_refund")
    ]


def test_the_same_failure_sent_twice_is_recorded_once(stack, api, token):
    payment_id = new_payment_id()
    first = send(REFUND_FAILED, stack.url, data={"payment_id": payment_id})

    again = send(REFUND_FAILED, stack.url, data={"payment_id": payment_id})

    assert first.json() == {"status": "accepted"}
    assert (again.status_code, again.json()["status"]) == (200, "ignored")
    listed = api.get(f"/transactions?q={payment_id}", token=token(org_id="org_demo")).json()
    assert len(listed["items"]) == 1


def test_an_api_sample_is_sent_with_a_token_for_its_claims(stack):
    payment_id = new_payment_id()
    send(REFUND_FAILED, stack.url, data={"payment_id": payment_id})

    answer = send(EVENTS / "api_list_transactions.json", stack.url)

    assert answer.status_code == 200
    assert payment_id in {entry["payment_id"] for entry in answer.json()["items"]}


def test_a_schedule_sample_is_refused_with_what_to_do_instead(stack):
    with pytest.raises(NotSendable, match="/_local/schedules"):
        send(EVENTS / "daily_digest_schedule.json", stack.url)


def test_the_command_sets_fields_and_prints_the_answer(stack, capsys):
    payment_id = new_payment_id()

    code = main([str(REFUND_FAILED), "--url", stack.url, "--set", f"payment_id={payment_id}"])

    assert code == 0
    assert '"accepted"' in capsys.readouterr().out


def test_the_command_exits_non_zero_and_says_why_when_nothing_answers(capsys):
    code = main([str(REFUND_FAILED), "--url", "http://127.0.0.1:9"])

    assert code == 2
    assert "make dev" in capsys.readouterr().err
