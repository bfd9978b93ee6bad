"""Send a sample of events/ to the running local stack (`make send-event EVENT=events/<file>.json`).

A webhook sample is signed as its sender would sign it now: the endpoint's local secret (from
GET /_local/webhook-secrets), a new `webhook-id`, the current `webhook-timestamp`, and, unless
--keep-occurred-at, `occurred_at` set to now (so a failure lands in the next digest's window).
An API sample is sent with a token minted by POST /_local/token for the claims it carries.
Prints the answer; exits 1 when the stack refused the request.
"""

import argparse
import base64
import json
import os
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from local import config, demo
from payment_action_center.adapters.http.auth import groups_claim

WEBHOOK_ENDPOINTS = {"/webhooks/payments": "payments", "/webhooks/billing": "billing"}


class NotSendable(Exception):
    """The file is not an HTTP sample the local stack can be sent."""


def default_url() -> str:
    port = os.environ.get(config.PORT_VARIABLES["gateway"], config.DEFAULT_PORTS["gateway"])
    return f"http://127.0.0.1:{port}"


def http_sample(path: Path) -> dict[str, Any]:
    """The API Gateway (payload 2.0) event a sample file holds."""
    try:
        sample = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise NotSendable(f"{path}: cannot read it as JSON ({error})") from None
    if not isinstance(sample, dict) or "routeKey" not in sample:
        raise NotSendable(
            f"{path} is not an HTTP sample (schedule and queue samples are for `sam local "
            "invoke`; run a schedule with POST /_local/schedules/<name>)"
        )
    return sample


def sample_body(sample: dict[str, Any]) -> bytes:
    body = sample.get("body") or ""
    return base64.b64decode(body) if sample.get("isBase64Encoded") else body.encode()


def webhook_request(
    session: requests.Session,
    url: str,
    path: str,
    body: bytes,
    keep_occurred_at: bool,
    data: Mapping[str, str],
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery signed now with the endpoint's local secret; `data`
    replaces fields of the event's `data` (a new `payment_id`, another `organization_id`)."""
    secrets = session.get(f"{url}/_local/webhook-secrets", timeout=10)
    secrets.raise_for_status()
    secret = secrets.json()[WEBHOOK_ENDPOINTS[path]]
    now = datetime.now(UTC)
    event = json.loads(body)
    event["data"] = {**event.get("data", {}), **data}
    if not keep_occurred_at:
        event["occurred_at"] = demo.rfc3339(now, timespec="milliseconds")
    text = json.dumps(event, ensure_ascii=False)
    return text.encode(), demo.signed_headers(secret, f"msg_{uuid.uuid4().hex}", text, now)


def api_headers(session: requests.Session, url: str, sample: dict[str, Any]) -> dict[str, str]:
    """The sample's headers, with a local token for the claims its authorizer context holds."""
    headers = {
        name: value
        for name, value in (sample.get("headers") or {}).items()
        if name.lower() not in {"host", "authorization", "content-length"}
    }
    claims = (sample.get("requestContext", {}).get("authorizer") or {}).get("jwt", {})
    claims = claims.get("claims") or {}
    if claims:
        minted = session.post(
            f"{url}/_local/token",
            json={
                "org_id": claims["org_id"],
                "sub": claims["sub"],
                "email": claims["email"],
                "groups": sorted(groups_claim(claims.get("groups"))),
            },
            timeout=10,
        )
        minted.raise_for_status()
        headers["authorization"] = f"Bearer {minted.json()['token']}"
    return headers


def send(
    path: Path, url: str, keep_occurred_at: bool = False, data: Mapping[str, str] | None = None
) -> requests.Response:
    sample = http_sample(path)
    method = sample["requestContext"]["http"]["method"]
    route_path = sample["rawPath"]
    body = sample_body(sample)
    with requests.Session() as session:
        if route_path in WEBHOOK_ENDPOINTS:
            body, headers = webhook_request(
                session, url, route_path, body, keep_occurred_at, data or {}
            )
        else:
            headers = api_headers(session, url, sample)
        query = sample.get("rawQueryString") or ""
        target = f"{url}{route_path}" + (f"?{query}" if query else "")
        return session.request(method, target, data=body or None, headers=headers, timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sample", type=Path, help="a file of events/, e.g. events/webhooks_payments_failed.json"
    )
    parser.add_argument(
        "--url", default=default_url(), help="the local gateway (default: %(default)s)"
    )
    parser.add_argument(
        "--keep-occurred-at",
        action="store_true",
        help="send the sample's own occurred_at instead of now",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="replace a field of a webhook's data, e.g. --set payment_id=pay_2 (repeatable)",
    )
    arguments = parser.parse_args(argv)
    fields = dict(assignment.partition("=")[::2] for assignment in arguments.set)
    if any(not name or not value for name, value in fields.items()):
        parser.error("--set takes FIELD=VALUE, e.g. --set payment_id=pay_2")
    try:
        answer = send(
            arguments.sample, arguments.url.rstrip("/"), arguments.keep_occurred_at, fields
        )
    except NotSendable as error:
        print(error, file=sys.stderr)
        return 2
    except requests.ConnectionError:
        print(
            f"nothing answers at {arguments.url}: start the local stack with `make dev`",
            file=sys.stderr,
        )
        return 2
    print(f"{answer.request.method} {answer.request.path_url} -> {answer.status_code}")
    print(answer.text)
    return 0 if answer.ok else 1


if __name__ == "__main__":
    sys.exit(main())
