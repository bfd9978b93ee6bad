"""Faults on the local stack, over HTTP: DynamoDB Local or the moto server frozen (SIGSTOP,
`Service.pause()` in local/services.py) in the middle of the work, the same SQS message delivered
twice, a schedule fired twice at once, and clocks apart (docs/contract.md §2, §4.1, §4.3).

Each test asserts what a user or a sender sees afterwards: every payment stored once, one charge,
one email per recipient, nothing lost. Proofs of the same faults below the HTTP level, cited
rather than repeated here: tests/integration/test_faults_retry_worker.py (a timeout between the
charge and the write that settles it), tests/unit/app/test_retries.py (a redelivered retry
message), tests/unit/app/test_digest.py and test_card_notices.py (reruns and duplicate
deliveries), tests/unit/adapters/test_signatures.py (the ±300 s window, second by second;
here it is ±290 s accepted and ±310 s refused, for the time a request takes).
"""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.services import Service
from local.stack import LocalStack
from payment_action_center.app.work import CardNoticeWork, DigestWork, RetryWork
from tests.e2e.conftest import Api, MintToken, PostWebhook, WaitForQueues, signed_post
from tests.shared import factories

# Longer than the Webhooks and Api functions' Timeout (template.yaml, Globals: 10 s), so that the
# requests caught by the pause run out of time while DynamoDB says nothing.
PAUSE_PAST_THE_FUNCTION_TIMEOUT = 12.0
# What a Standard Webhooks sender does with an answer other than 2xx: it delivers again later.
DELIVERED_AGAIN = {409, 500, 502, 503, 504}
# The moto server frozen while the digest run sends its requests: far longer than the run takes
# to reach its first SendMessage on a busy machine, and shorter than the SQS client's 60 s read
# timeout (adapters/clients.py `client`), so that the request waits rather than fails.
DIGEST_PAUSE = 10.0
# docs/contract.md §4.1: a webhook-timestamp more than 300 s from the receiver's clock is refused,
# an occurred_at more than 300 s after it too. Ten seconds either side of the line: far more than
# a timestamp's rounding to whole seconds and the time a request takes on a busy machine.
WITHIN, BEYOND = 290, 310


@contextmanager
def paused(service: Service) -> Iterator[None]:
    service.pause()
    try:
        yield
    finally:
        service.resume()


def new_org() -> str:
    return f"org_{uuid.uuid4().hex[:10]}"


def entry(api: Api, jwt: str, entry_id: str) -> dict[str, Any]:
    answer = api.get(f"/transactions/{entry_id}", jwt)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def failure(post_webhook: PostWebhook, api: Api, jwt: str, org: str) -> str:
    """A failed payment whose retry succeeds at the sandbox; its entry id."""
    body = factories.payment_failed(
        data__organization_id=org, data__payment_method={"token": "tok_success"}
    )
    assert post_webhook("payments", body).json() == {"status": "accepted"}
    items = api.get("/transactions", jwt, params={"q": body["data"]["payment_id"]}).json()["items"]
    return str(items[0]["id"])


def charges_for(api: Api, entry_id: str) -> list[tuple[str, str]]:
    return [
        (c["operation"], c["idempotency_key"])
        for c in api.sandbox_charges()
        if c["idempotency_key"].startswith(entry_id)
    ]


def recovered_events(api: Api, entry_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in api.local_events()
        if e["detail_type"] == "PaymentRecovered" and e["detail"]["transaction_id"] == entry_id
    ]


def send_twice(stack: LocalStack, queue: str, body: str) -> None:
    """The same message twice on one of the template's queues, as SQS may deliver it."""
    sqs = stack.endpoints.client("sqs")
    sqs.send_message_batch(
        QueueUrl=stack.values.refs[queue],
        Entries=[{"Id": "first", "MessageBody": body}, {"Id": "again", "MessageBody": body}],
    )


# ------------------------------------------------------------------ DynamoDB Local paused


def test_dynamodb_paused_mid_burst_every_payment_is_stored_exactly_once(
    stack: LocalStack, api: Api, token: MintToken
) -> None:
    """Three senders deliver 12 failures, retrying with the same webhook-id until a 2xx, as a
    Standard Webhooks sender does. DynamoDB stops answering after the first wave: the handler,
    whose SDK waits longer than the function may run, runs out of time, and the sender gets a 5xx
    and delivers again. No 200 while DynamoDB is frozen; afterwards every payment is there once."""
    org = new_org()
    bodies = [factories.payment_failed(data__organization_id=org) for _ in range(12)]
    first_wave = 3  # senders; each worker the pause catches is killed, then started again
    frozen = threading.Event()  # set while DynamoDB is paused (cleared before it resumes)
    second_wave = threading.Event()
    answers: list[tuple[int, int, bool]] = []  # (payment, status, answered while frozen)
    lock = threading.Lock()

    def deliver(index: int) -> None:
        if index >= first_wave:
            assert second_wave.wait(60)
        with api.fresh() as sender:  # a session of the thread's own
            deliver_until_accepted(sender, index)

    def deliver_until_accepted(sender: Api, index: int) -> None:
        webhook_id = f"msg_{org}_{index}"
        for _ in range(200):
            answer = signed_post(sender, "payments", bodies[index], webhook_id=webhook_id)
            with lock:
                answers.append((index, answer.status_code, frozen.is_set()))
            if answer.status_code == 200:
                assert answer.json() == {"status": "accepted"}
                return
            assert answer.status_code in DELIVERED_AGAIN, answer.text
            time.sleep(0.2)
        pytest.fail(f"payment {index} was never accepted")

    with ThreadPoolExecutor(first_wave) as senders:
        delivered = [senders.submit(deliver, index) for index in range(len(bodies))]
        for done in delivered[:first_wave]:
            done.result(timeout=60)
        stack.dynamodb.pause()
        try:
            frozen.set()
            second_wave.set()
            time.sleep(PAUSE_PAST_THE_FUNCTION_TIMEOUT)
        finally:
            frozen.clear()
            stack.dynamodb.resume()
        for done in delivered:
            done.result(timeout=90)

    statuses = {status for _, status, _ in answers}
    assert statuses <= {200} | DELIVERED_AGAIN
    assert 503 in statuses, "no delivery was caught by the pause"  # the gateway: function Timeout
    assert [
        index for index, status, while_frozen in answers if while_frozen and status == 200
    ] == []
    jwt = token(org_id=org)
    items = api.get("/transactions", jwt, params={"limit": 200}).json()["items"]
    assert sorted(item["payment_id"] for item in items) == sorted(
        body["data"]["payment_id"] for body in bodies
    )
    caught = {bodies[index]["data"]["payment_id"] for index, status, _ in answers if status != 200}
    for item in items:
        if item["payment_id"] in caught:  # delivered again: one effect all the same
            audit = [a["action"] for a in entry(api, jwt, item["id"])["audit"]]
            assert audit == ["received"], item["payment_id"]


# ------------------------------------------------------------------ the moto server paused


def test_moto_paused_during_a_retry_request_answers_202_and_charges_once(
    stack: LocalStack,
    api: Api,
    token: MintToken,
    post_webhook: PostWebhook,
    queues_idle: WaitForQueues,
) -> None:
    """SQS does not answer the API's SendMessage: the retry, recorded before the message, answers
    202 once the API's queue client gives up (adapters/clients.py). Once SQS is back, the work is
    done, by a message SQS took after all or by the watchdog's resend past the deadline: one
    charge under the attempt's key, one PaymentRecovered."""
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(post_webhook, api, jwt, org)
    with paused(stack.moto):
        answer = api.post(f"/transactions/{entry_id}/retry", jwt)
    assert (answer.status_code, answer.json()["status"]) == (202, "retry_pending"), answer.text
    queues_idle()
    # The watchdog is stack-wide: 31 minutes ahead it checks every credit-card retry still
    # pending on the shared stack, not only this one (settles it from the processor's status,
    # sends it again, or flags it), and publishes every outbox event left unpublished. Earlier
    # tests leave no credit-card retry pending (each waits for its queues to be idle, the fuzz
    # and the load included); their pending e-checks have a deadline of 120 hours (template.yaml,
    # PENDING_DEADLINE_ECHECK_HOURS) and are left alone.
    past_deadline = datetime.now(UTC) + timedelta(minutes=31)
    api.run_schedule("retry-watchdog", now=past_deadline.isoformat())
    queues_idle()
    recovered = entry(api, jwt, entry_id)
    assert recovered["status"] == "recovered"
    assert [a["action"] for a in recovered["audit"]] == [
        "received",
        "retry_requested",
        "charge_sent",
        "recovered",
    ]
    assert charges_for(api, entry_id) == [("charge", f"{entry_id}:retry:1")]
    assert len(recovered_events(api, entry_id)) == 1


def digest_org(
    api: Api, token: MintToken, post_webhook: PostWebhook, day: str
) -> tuple[str, set[str]]:
    """An organization in Halifax with two failures on `day` (each test its own day: an hourly
    run then sends only to its organization), its billing contact and an admin who opted in:
    (org, the two addresses)."""
    org = new_org()
    contact, admin = f"billing-{org}@example.com", f"admin-{org}@example.com"
    settings = factories.organization_upserted(
        data__organization_id=org,
        data__time_zone="America/Halifax",
        data__billing_contact_email=contact,
    )
    assert post_webhook("billing", settings).status_code == 200
    opt_in = api.request(
        "PUT",
        "/me/notification-preferences",
        token(org_id=org, email=admin, sub=f"user_{org}"),
        json={"failed_transactions_digest": True, "locale": "en-CA"},
    )
    assert opt_in.status_code == 200, opt_in.text
    for at in (f"{day}T02:00:00Z", f"{day}T10:30:00Z"):
        body = factories.payment_failed(data__organization_id=org, occurred_at=at)
        assert post_webhook("payments", body).status_code == 200
    return org, {contact, admin}


def digest_hour(day: str) -> str:
    return f"{day}T11:00:00Z"  # 07:00 in Halifax (AST, UTC-4, from November)


def recipients(api: Api, addresses: set[str]) -> list[str]:
    """Who got an email among `addresses`, one entry per message, sorted."""
    return sorted(to for m in api.outbox() for to in m["to"] if to in addresses)


def test_moto_paused_during_a_digest_run_sends_each_recipient_one_email(
    stack: LocalStack, api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    """The hourly run starts while SQS does not answer: its SendMessage of the digest request
    waits, the run is not over while SQS is frozen and lasts at least the pause; once SQS is back
    it carries on, and each recipient gets one digest.

    SQS only: SES is the same moto server, and the DigestSender reads its request from the SQS
    the pause freezes, so SES cannot be frozen while the DigestSender sends (its SendEmail is not
    retried after a timeout, adapters/clients.py `mail_client`; at most once, docs/contract.md
    §4.3, is proven below the HTTP level: tests/unit/app/test_digest.py)."""
    _, addresses = digest_org(api, token, post_webhook, "2026-11-17")

    def run_digest() -> dict[str, Any]:
        with api.fresh() as runner:  # a session of the thread's own
            return runner.run_schedule("daily-digest", digest_hour("2026-11-17"))

    with ThreadPoolExecutor(1) as pool:
        with paused(stack.moto):
            started = time.monotonic()
            run = pool.submit(run_digest)
            time.sleep(DIGEST_PAUSE)
            assert not run.done(), run.exception() or run.result()  # it could not end without SQS
        run.result(timeout=90)  # raises what the run raised
        lasted = time.monotonic() - started
    assert lasted >= DIGEST_PAUSE
    assert recipients(api, addresses) == sorted(addresses)


# ------------------------------------------------------------------ the same message twice


def test_the_same_retry_message_delivered_twice_charges_once(
    stack: LocalStack,
    api: Api,
    token: MintToken,
    post_webhook: PostWebhook,
    queues_idle: WaitForQueues,
) -> None:
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(post_webhook, api, jwt, org)
    answer = api.post(f"/transactions/{entry_id}/retry", jwt)
    assert answer.status_code == 202, answer.text
    send_twice(stack, "RetryQueue", RetryWork(org, entry_id, 1).body())
    queues_idle()
    assert entry(api, jwt, entry_id)["status"] == "recovered"
    assert charges_for(api, entry_id) == [("charge", f"{entry_id}:retry:1")]
    assert len(recovered_events(api, entry_id)) == 1


def test_the_same_digest_message_delivered_twice_sends_one_email_per_recipient(
    stack: LocalStack,
    api: Api,
    token: MintToken,
    post_webhook: PostWebhook,
    queues_idle: WaitForQueues,
) -> None:
    org, addresses = digest_org(api, token, post_webhook, "2026-11-18")
    work = DigestWork(org, digest_hour("2026-11-18"), "2026-11-18")
    send_twice(stack, "DigestQueue", work.body())
    queues_idle()
    assert recipients(api, addresses) == sorted(addresses)


def card_org(post_webhook: PostWebhook, month: int) -> tuple[str, str]:
    """An organization with one wallet card expiring in `month` of 2027 (each test its own: a scan
    then notifies only its organization), charged by a scheduled payment: (org, the card
    holder's address)."""
    org = new_org()
    holder, email = f"ah_{org}", f"holder-{org}@example.com"
    settings = factories.organization_upserted(
        data__organization_id=org, data__time_zone="America/Toronto"
    )
    assert post_webhook("billing", settings).status_code == 200
    card = factories.card_upserted(
        data__organization_id=org,
        data__card_id=f"card_{org}",
        data__account_holder={"id": holder, "name": "Léa Roy", "email": email},
        data__exp_month=month,
        data__exp_year=2027,
        data__in_wallet=True,
    )
    assert post_webhook("billing", card).status_code == 200
    payment = factories.scheduled_payment_upserted(
        data__organization_id=org,
        data__scheduled_payment_id=f"sp_{org}",
        data__account_holder={"id": holder, "name": "Léa Roy", "email": email},
        data__payment_method={"token": "tok_success", "card_id": f"card_{org}"},
        data__next_payment_at=f"2027-{month:02d}-05T14:00:00Z",
    )
    assert post_webhook("billing", payment).status_code == 200
    return org, email


def scan_day(month: int) -> str:
    return f"2027-{month - 1:02d}-10T13:00:00Z"  # the month before the card expires


def test_the_same_card_notice_message_delivered_twice_sends_one_notice(
    stack: LocalStack, api: Api, post_webhook: PostWebhook, queues_idle: WaitForQueues
) -> None:
    org, email = card_org(post_webhook, month=5)
    send_twice(stack, "CardNoticeQueue", CardNoticeWork(org, scan_day(5)).body())
    queues_idle()
    assert recipients(api, {email}) == [email]


# ------------------------------------------------------------------ a schedule fired twice


def fire_twice_at_once(api: Api, schedule: str, now: str) -> None:
    def fire() -> None:
        with api.fresh() as runner:  # a session of the thread's own
            runner.run_schedule(schedule, now)

    with ThreadPoolExecutor(2) as both:
        for run in [both.submit(fire) for _ in range(2)]:
            run.result(timeout=90)


def test_the_digest_fired_twice_at_once_for_one_hour_sends_one_email_per_recipient(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    _, addresses = digest_org(api, token, post_webhook, "2026-11-19")
    fire_twice_at_once(api, "daily-digest", digest_hour("2026-11-19"))
    assert recipients(api, addresses) == sorted(addresses)


def test_the_card_scan_fired_twice_at_once_for_one_day_sends_one_notice(
    api: Api, post_webhook: PostWebhook
) -> None:
    _, email = card_org(post_webhook, month=6)
    fire_twice_at_once(api, "card-expiry-scan", scan_day(6))
    assert recipients(api, {email}) == [email]


# ------------------------------------------------------------------ clocks apart


def signed_at(seconds: int, post_webhook: PostWebhook, body: dict[str, Any]) -> int:
    """POST `body` signed `seconds` from now (ahead if positive); the status."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return int(post_webhook("payments", body, at=at).status_code)


def warm_up(post_webhook: PostWebhook) -> None:
    """A delivery of another organization first: the cases that follow meet a warm function, not
    a cold start's seconds."""
    body = factories.payment_failed(data__organization_id=new_org())
    assert post_webhook("payments", body).json() == {"status": "accepted"}


def test_a_webhook_timestamp_within_300_seconds_either_way_is_accepted_beyond_is_401(
    post_webhook: PostWebhook,
) -> None:
    def body() -> dict[str, Any]:
        return factories.payment_failed(data__organization_id=new_org())

    warm_up(post_webhook)
    assert signed_at(-WITHIN, post_webhook, body()) == 200
    assert signed_at(WITHIN, post_webhook, body()) == 200
    assert signed_at(-BEYOND, post_webhook, body()) == 401
    assert signed_at(BEYOND, post_webhook, body()) == 401


def test_an_occurred_at_more_than_300_seconds_after_the_delivery_is_400_within_accepted(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()

    def occurring_in(seconds: int) -> dict[str, Any]:
        at = datetime.now(UTC) + timedelta(seconds=seconds)
        return factories.payment_failed(
            data__organization_id=org, occurred_at=at.isoformat().replace("+00:00", "Z")
        )

    warm_up(post_webhook)
    ahead = occurring_in(330)  # 30 s past the line: the request's own time cannot close it
    refused = post_webhook("payments", ahead)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "invalid_payload"
    assert "occurred_at" in json.dumps(refused.json()["errors"])
    within = occurring_in(WITHIN)
    assert post_webhook("payments", within).json() == {"status": "accepted"}
    items = api.get("/transactions", token(org_id=org)).json()["items"]
    assert [item["payment_id"] for item in items] == [within["data"]["payment_id"]]
