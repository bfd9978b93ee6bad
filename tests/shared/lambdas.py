"""Load a function's handler as Lambda would (a fresh cold start), and build its events."""

import base64
import importlib.util
import itertools
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parents[2]
_cold_starts = itertools.count()


def cold_start(function: str) -> ModuleType:
    """Import functions/<function>/app.py under a fresh name: module state starts anew.

    As in Lambda, the function's directory is on sys.path while the handler imports, so app.py
    imports its sibling modules (functions/api/transactions.py, …) by their plain names. Those are
    then dropped from sys.modules: the next cold start imports them anew too (a Router, the
    adapters), and another function's module of the same name is not taken for this one's.
    """
    directory = ROOT / "functions" / function
    name = f"_fn_{function}_{next(_cold_starts)}"
    spec = importlib.util.spec_from_file_location(name, directory / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # A module of the same plain name imported earlier (tools/openapi.py imports the API's by
    # name) must not stand in for this function's own.
    for sibling in directory.glob("*.py"):
        sys.modules.pop(sibling.stem, None)
    sys.path.insert(0, str(directory))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
        for sibling in [n for n, m in sys.modules.items() if _defined_in(m, directory)]:
            if sibling != name:
                del sys.modules[sibling]
    return module


def _defined_in(module: ModuleType | None, directory: Path) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).parent == directory


class Context:
    function_name = "test-function"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ca-central-1:123456789012:function:test-function"
    aws_request_id = "req-00000000"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "stream"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        # A fresh invocation of a 60 s function (the retry worker's Timeout, template.yaml).
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    claims: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event."""
    raw = body.encode() if isinstance(body, str) else body
    route_key = f"{method} {route or path}"
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example.com",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "pytest",
        },
        "requestId": "req-00000000",
        "routeKey": route_key,
        "stage": "$default",
        "time": "25/Nov/2026:17:00:00 +0000",
        "timeEpoch": 1795626000000,
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "queryStringParameters": query or None,
        "pathParameters": path_parameters,
        "requestContext": context,
        "body": base64.b64encode(raw).decode() if raw is not None else None,
        "isBase64Encoded": raw is not None,
    }


def signed_headers(
    secret: str, body: bytes, webhook_id: str, at: datetime | None = None
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(webhook_id, at, body.decode())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def answer(response: dict[str, Any]) -> tuple[int, Any]:
    """Status and parsed JSON body of a handler's answer."""
    body = response.get("body") or "null"
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return int(response["statusCode"]), json.loads(body)


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()
