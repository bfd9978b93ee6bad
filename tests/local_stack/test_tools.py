"""The developer tools of tools/: the digest's next firing time and the event samples they send."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local import config
from tools.digest_time import next_digest_time
from tools.send_event import WEBHOOK_ENDPOINTS

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SAMPLES = sorted(
    path
    for path in (ROOT / "events").glob("*.json")
    if json.loads(path.read_text(encoding="utf-8")).get("rawPath") in WEBHOOK_ENDPOINTS
)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # EST (UTC-5): 07:00 is 12:00Z; before it, today; after it, tomorrow.
        ("2026-12-01T11:59:59Z", "2026-12-01T12:00:00Z"),
        ("2026-12-01T12:00:00Z", "2026-12-02T12:00:00Z"),
        ("2026-12-01T12:30:00Z", "2026-12-02T12:00:00Z"),
        # EDT (UTC-4): 07:00 is 11:00Z.
        ("2026-07-01T03:00:00Z", "2026-07-01T11:00:00Z"),
        # Daylight saving time starts on 2027-03-14 at 02:00 local: 07:00 is then 11:00Z.
        ("2027-03-13T13:00:00Z", "2027-03-14T11:00:00Z"),
        # It ends on 2026-11-01 at 02:00 local: 07:00 is 12:00Z that day.
        ("2026-10-31T12:00:00Z", "2026-11-01T12:00:00Z"),
    ],
)
def test_the_digest_fires_next_at_seven_in_toronto(now, expected):
    at = next_digest_time("America/Toronto", datetime.fromisoformat(now))

    assert at == datetime.fromisoformat(expected)


@given(
    now=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(
        ["America/Toronto", "America/Vancouver", "America/Halifax", "America/St_Johns"]
    ),
)
def test_the_next_digest_time_is_seven_local_within_a_day(now, zone):
    at = next_digest_time(zone, now)

    local = at.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute, local.second) == (7, 0, 0)
    assert now < at
    assert (at - now).total_seconds() <= 25 * 3600  # a day, or 25 h across a DST change


@pytest.mark.parametrize("sample", WEBHOOK_SAMPLES, ids=lambda path: path.name)
def test_every_webhook_sample_carries_a_real_signature_with_the_local_secret(sample):
    event = json.loads(sample.read_text(encoding="utf-8"))
    headers = event["headers"]
    secret = config.WEBHOOK_SECRETS[WEBHOOK_ENDPOINTS[event["rawPath"]]]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{event['body']}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()

    assert headers["webhook-signature"] == f"v1,{expected}"


def test_there_is_a_sample_of_each_sender_and_of_the_first_event_of_an_organization():
    bodies = [
        json.loads(json.loads(p.read_text(encoding="utf-8"))["body"]) for p in WEBHOOK_SAMPLES
    ]

    assert {"payment.failed", "refund.failed", "organization.upserted", "card.upserted"} <= {
        body["type"] for body in bodies
    }
