"""The local gateway as a client sees it, next to API Gateway (docs/local-gateway.md): UTF-8
queries, the gateway-level errors, clients that leave early, readiness, and a quiet console."""

import contextlib
import http.client
import json
import logging
import os
import socket
import struct
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local import config, demo
from local.gateway import LOADER_HEADER, Gateway
from local.oidc import IdentityProvider
from local.services import free_port
from local.stack import DEMO_ADMIN, LocalStack
from local.template import JwtAuthorizer, Route
from local.workers import FunctionError, FunctionRuntime, FunctionTimeout, Workers
from tests.e2e.conftest import Api, MintToken, PostWebhook
from tests.shared import factories

# ----------------------------------------------------------------------------- UTF-8 queries


def raw_get(url: str, target: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """GET with the target's bytes as they are, not percent-encoded (as curl sends `?q=ELOÏSE`)."""
    host, port = url.removeprefix("http://").split(":")
    lines = [b"GET " + target + b" HTTP/1.1", f"host: {host}:{port}".encode()]
    lines += [f"{name}: {value}".encode() for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=60) as connection:
        connection.sendall(b"\r\n".join([*lines, b"connection: close", b"", b""]))
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        return answer.status, json.loads(answer.read())


def test_a_raw_utf8_query_finds_the_holder_as_api_gateway_decodes_it(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = f"org_{uuid.uuid4().hex[:10]}"
    failure = factories.payment_failed(
        data__organization_id=org, data__account_holder__name="Éloïse Bergeron"
    )
    assert post_webhook("payments", failure).status_code == 200
    bearer = {"authorization": f"Bearer {token(org_id=org)}"}

    status, page = raw_get(api.url, "/transactions?q=ELOÏSE".encode(), bearer)

    assert status == 200
    assert [item["account_holder"]["name"] for item in page["items"]] == ["Éloïse Bergeron"]
    encoded = api.get("/transactions?q=ELO%C3%8FSE", headers=bearer).json()
    assert [item["account_holder"]["name"] for item in encoded["items"]] == ["Éloïse Bergeron"]


# ------------------------------------------------------------------------ an in-process gateway
# Routes to a stand-in for the workers: what the gateway does around a function, without one.

ROUTES = [
    Route("GET", "/echo/{id}", "Echo", "Jwt"),
    Route("ANY", "/public", "Echo", None),
    Route("GET", "/boom", "Boom", None),
    Route("GET", "/hang", "Hang", None),
    Route("GET", "/held", "Held", None),
]


class Functions:
    """Echo answers the event it got; Boom fails; Hang times out; Held waits for `release`."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        if function_id == "Boom":
            raise FunctionError("Boom", "RuntimeError", "boom")
        if function_id == "Hang":
            raise FunctionTimeout("Hang", "Sandbox.Timedout", "no answer within 3 s")
        if function_id == "Held":
            assert self.release.wait(30)
        return {"event": event}


@pytest.fixture(scope="module")
def identity() -> Iterator[IdentityProvider]:
    """The toy gateway's identity provider, on a free port, with the toy user."""
    with IdentityProvider(0) as running:
        running.register("user_toy", "t@toy.example", "org_toy", ["billing_admin"])
        yield running


@contextlib.contextmanager
def front(issuer: str, *, starting: bool = False) -> Iterator[tuple[Gateway, Functions]]:
    functions = Functions()
    jwt = JwtAuthorizer(issuer=issuer, audiences=(config.JWT_AUDIENCE,))
    gateway = Gateway(
        ROUTES, {"Jwt": jwt}, functions.invoke, {}, port=free_port(), starting=starting
    )
    with gateway:
        yield gateway, functions


@pytest.fixture(scope="module")
def gateway(identity: IdentityProvider) -> Iterator[Gateway]:
    with front(identity.issuer) as (running, _):
        yield running


@pytest.fixture(scope="module")
def toy_token(identity: IdentityProvider) -> str:
    """An ID token of the toy user from the provider: sign-in with PKCE."""
    return identity.sign_in("user_toy", config.JWT_AUDIENCE)


def test_a_percent_encoded_query_and_path_reach_the_function_decoded(
    gateway: Gateway, toy_token: str
) -> None:
    answer = requests.get(
        gateway.url + "/echo/%C3%A9t%C3%A9?q=ELO%C3%8FSE",
        headers={"authorization": f"Bearer {toy_token}"},
        timeout=30,
    )
    event = answer.json()["event"]
    assert event["queryStringParameters"] == {"q": "ELOÏSE"}
    assert event["pathParameters"] == {"id": "été"}
    assert event["requestContext"]["http"]["path"] == "/echo/été"


@pytest.mark.parametrize("target", [b"/public?q=\xff", b"/public?q=%FF", b"/%C3"])
def test_a_target_that_is_not_utf8_is_a_400_bad_request(gateway: Gateway, target: bytes) -> None:
    assert raw_get(gateway.url, target, {}) == (
        400,
        {"message": "Bad Request", "code": "bad_request"},
    )


# ----------------------------------------------------------------------------- gateway-level errors


def request(gateway: Gateway, method: str, path: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(gateway.host, gateway.port, timeout=30)
    connection.putrequest(method, path)
    for name, value in headers.items():
        connection.putheader(name.replace("_", "-"), value)
    connection.endheaders()
    return connection.getresponse()


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "body", "header"),
    [
        ("GET", "/nowhere", {}, 404, {"message": "Not Found", "code": "not_found"}, None),
        ("DELETE", "/boom", {}, 404, {"message": "Not Found", "code": "not_found"}, None),
        (
            "GET", "/echo/1", {}, 401, {"message": "Unauthorized", "code": "unauthorized"},
            ("www-authenticate", 'Bearer error="invalid_token"'),
        ),
        (
            "POST", "/public", {"content_length": str(11 * 1024 * 1024)}, 413,
            {"message": "Request Entity Too Large", "code": "payload_too_large"}, None,
        ),
        (
            "GET", "/boom", {}, 500,
            {"message": "Internal Server Error", "code": "internal_error"}, None,
        ),
        (
            "GET", "/hang", {}, 503,
            {"message": "Service Unavailable", "code": "service_unavailable"}, None,
        ),
        (
            "POST", "/public", {"content_length": "many"}, 400,
            {"message": "Bad Request", "code": "bad_request"}, None,
        ),
        (
            "TRACE", "/public", {}, 404,
            {"message": "Not Found", "code": "not_found"}, None,
        ),
    ],
)  # fmt: skip
def test_gateway_level_errors_carry_api_gateways_message_and_a_code(
    gateway: Gateway,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
    body: dict[str, str],
    header: tuple[str, str] | None,
) -> None:
    answer = request(gateway, method, path, **headers)
    assert answer.status == status
    assert answer.getheader("content-type") == "application/json"
    assert json.loads(answer.read()) == body
    if header is not None:
        assert answer.getheader(header[0]) == header[1]


def test_an_issuer_that_cannot_be_reached_refuses_with_401_not_500(
    caplog: pytest.LogCaptureFixture, toy_token: str
) -> None:
    caplog.set_level(logging.INFO)
    with front(f"http://127.0.0.1:{free_port()}") as (gateway, _):
        answer = request(gateway, "GET", "/echo/1", authorization=f"Bearer {toy_token}")
        assert answer.status == 401
        assert json.loads(answer.read()) == {"message": "Unauthorized", "code": "unauthorized"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("openid-configuration" in line for line in warnings), warnings


def test_what_the_http_parser_refuses_is_json_too(gateway: Gateway) -> None:
    status, body = raw_get(gateway.url, b"/public HTTP/1.1 extra", {})
    assert status == 400
    assert body == {"message": "Bad Request", "code": "bad_request"}


# ----------------------------------------------------------------------------- one line per request


def test_each_request_is_one_console_line_with_method_path_status_and_time(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    requests.get(gateway.url + "/public?x=1", timeout=30)
    requests.get(gateway.url + "/echo/1", timeout=30)

    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("GET /public?x=1 -> 200 (") and lines[0].endswith(" ms)")
    assert lines[1].startswith("GET /echo/1 -> 401 (")
    assert lines[1].endswith("ms): no Authorization header")


# ----------------------------------------------------------------------------- clients that leave


def test_a_client_that_leaves_before_its_answer_leaves_no_traceback(
    identity: IdentityProvider,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="local.gateway")
    with front(identity.issuer) as (gateway, functions):
        client = socket.create_connection((gateway.host, gateway.port), timeout=30)
        client.sendall(b"GET /held HTTP/1.1\r\nhost: local\r\n\r\n")
        # close at once with a reset: the answer is written to a connection that is gone
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        functions.release.set()

        assert requests.get(gateway.url + "/public", timeout=30).status_code == 200
    # the gateway has stopped: every request thread is over, the dropped one included

    assert "Traceback" not in capsys.readouterr().err
    assert any("client left" in record.getMessage() for record in caplog.records)


# ----------------------------------------------------------------------------- readiness

STARTING = {"message": "Service Unavailable", "code": "starting"}


def test_a_starting_gateway_lets_only_the_loader_through_and_hides_its_pass(
    identity: IdentityProvider,
) -> None:
    with front(identity.issuer, starting=True) as (gateway, _):
        refused = requests.get(gateway.url + "/public", timeout=30)
        loader = requests.get(gateway.url + "/public", headers=gateway.loader_headers, timeout=30)
        wrong_pass = requests.get(
            gateway.url + "/public", headers={LOADER_HEADER: "guess"}, timeout=30
        )
        gateway.open()
        opened = requests.get(gateway.url + "/public", timeout=30)

    assert (refused.status_code, refused.json()) == (503, STARTING)
    assert refused.headers["retry-after"] == "1"
    assert wrong_pass.status_code == 503
    assert loader.status_code == 200
    assert LOADER_HEADER not in loader.json()["event"]["headers"]
    assert opened.status_code == 200


def test_a_demo_stack_serves_once_its_demo_data_is_in() -> None:
    stack = LocalStack(
        gateway_port=None, dynamodb_port=None, moto_port=None, oidc_port=None, demo=True
    )
    try:
        stack.launch()
        # The provider serves while the gateway starts, and knows the demo admin from the start.
        admin = stack.identity.sign_in(str(DEMO_ADMIN["sub"]), config.JWT_AUDIENCE)
        bearer = {"authorization": f"Bearer {admin}"}
        early = requests.get(stack.url + "/transactions", headers=bearer, timeout=30)
        early_health = requests.get(stack.url + "/_local/health", timeout=30)
        stack.load_demo()
        health = requests.get(stack.url + "/_local/health", timeout=30)
        page = requests.get(stack.url + "/transactions?limit=100", headers=bearer, timeout=60)
    finally:
        stack.stop()

    assert (early.status_code, early.json(), early.headers["retry-after"]) == (503, STARTING, "1")
    assert early_health.status_code == 503
    assert (health.status_code, health.json()) == (200, {"status": "ready"})
    assert page.status_code == 200
    holders = {item["account_holder"]["name"] for item in page.json()["items"]}
    assert holders == {failure.holder for failure in demo.FAILURES}


# ------------------------------------------------------------------------ the functions' output

CHATTY = """
import logging
from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="toy")
metrics = Metrics(namespace="Toy", service="toy")

@metrics.log_metrics
def quiet(event, context):
    logger.info("an ordinary request")
    return {"ok": True}

@metrics.log_metrics
def failing(event, context):
    logger.error("the processor refused the retry")
    raise RuntimeError("boom in the toy")
"""


def toy_function(code: Path, name: str, handler: str) -> FunctionRuntime:
    return FunctionRuntime(
        name=name,
        handler=f"chatty.{handler}",
        code_dir=code,
        timeout=30,
        environment={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(code),
            "AWS_LAMBDA_FUNCTION_NAME": name,
        },
    )


def test_the_console_shows_a_functions_errors_but_not_its_routine_output(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAC_VERBOSE", raising=False)
    (tmp_path / "chatty.py").write_text(CHATTY)
    caplog.set_level(logging.INFO, logger="local.functions")
    functions = {
        "Quiet": toy_function(tmp_path, "Quiet", "quiet"),
        "Failing": toy_function(tmp_path, "Failing", "failing"),
    }
    with Workers(functions) as workers:
        assert workers.invoke("Quiet", {}) == {"ok": True}
        with pytest.raises(FunctionError):
            workers.invoke("Failing", {})
    # the workers have stopped: all they printed has been read

    console = "\n".join(record.getMessage() for record in caplog.records)
    assert "the processor refused the retry" in console
    assert "Traceback" in console and "RuntimeError: boom in the toy" in console
    assert "an ordinary request" not in console
    assert "No application metrics to publish" not in console
