"""The local stack itself: its local-only endpoints, the JWT authorizer, routing, the payload 2.0
events the handlers receive, worker processes, and a clean stop."""

import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from local import config, demo
from local.gateway import Gateway
from local.oidc import IdentityProvider, SignInFailed
from local.services import LocalServiceError, free_port
from local.stack import LocalStack
from local.template import LocalValues, environment, functions, jwt_authorizers, load, routes
from local.workers import Workers, runtime
from tests.e2e.conftest import Api, MintToken, PostWebhook

ROOT = Path(__file__).resolve().parents[2]
UNAUTHORIZED = {"code": "unauthorized", "message": "Unauthorized"}

# ----------------------------------------------------------------------------- local endpoints


def jwks_key(issuer: str, token: str) -> Any:
    """The key the token names, found as API Gateway finds it: discovery, then the JWKS."""
    discovery = requests.get(issuer + "/.well-known/openid-configuration", timeout=30).json()
    return jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token).key


def test_local_token_is_a_jwt_the_authorizer_accepts(api: Api, stack: LocalStack) -> None:
    body = {"org_id": "org_x", "sub": "user_1", "email": "a@x.example", "groups": ["billing_admin"]}
    answer = api.post("/_local/token", json=body)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert list(answer.json()) == ["token"]
    token = answer.json()["token"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token,
        jwks_key(stack.identity.issuer, token),
        algorithms=["RS256"],
        audience=config.JWT_AUDIENCE,
        issuer=stack.identity.issuer,
    )
    assert claims["org_id"] == "org_x"
    assert claims["sub"] == "user_1"
    assert claims["email"] == "a@x.example"
    assert claims["groups"] == ["billing_admin"]
    assert claims["exp"] > time.time() + 3600


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"sub": "u", "email": "a@x.example", "groups": []}).encode(),
        json.dumps({"org_id": "o", "sub": "u", "email": "a@x.example", "groups": "admin"}).encode(),
        json.dumps({"org_id": "", "sub": "u", "email": "a@x.example", "groups": []}).encode(),
    ],
)
def test_local_token_refuses_a_bad_body_with_a_json_400(api: Api, body: bytes) -> None:
    answer = api.post("/_local/token", data=body)
    assert answer.status_code == 400
    assert set(answer.json()) == {"code", "message"}


def token_body(**changes: object) -> dict[str, object]:
    return {"org_id": "org_x", "sub": "user_1", "email": "a@x.example", "groups": []} | changes


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sub": "a/b"}, "sub must not contain '/'"),
        ({"sub": "."}, "sub must not"),
        ({"sub": ".."}, "sub must not"),
        ({"sub": "a\x00b"}, "sub must not contain control characters"),
        ({"sub": "x" * 256}, "sub must be at most 255 characters"),
        ({"sub": " "}, "sub must be a non-empty string"),
        ({"email": "a@x.example\n"}, "email must not contain control characters"),
        ({"org_id": "o" * 256}, "org_id must be at most 255"),
        ({"groups": ["reader", ""]}, "groups[1] must be a non-empty string"),
        ({"groups": ["read\ter"]}, "groups[0] must not contain control characters"),
        ({"groups": [42]}, "groups[0] must be a non-empty string"),
        ({"groups": ["g"] * 101}, "groups must hold at most 100"),
    ],
    ids=[
        "sub with a slash",
        "sub dot",
        "sub dot dot",
        "sub with NUL",
        "sub of 256 characters",
        "sub blank",
        "email with a newline",
        "org_id too long",
        "an empty group",
        "a group with a tab",
        "a group not a string",
        "too many groups",
    ],
)
def test_local_token_refuses_what_the_provider_cannot_take_with_a_400(
    api: Api, changes: dict[str, object], reason: str
) -> None:
    answer = api.post("/_local/token", json=token_body(**changes))
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "bad_request"
    assert reason in answer.json()["message"]


def test_local_token_takes_any_other_subject_of_up_to_255_characters(api: Api) -> None:
    for sub in ["usér 1", "a\\b%2F?#", "x" * 255]:
        answer = api.post("/_local/token", json=token_body(sub=sub))
        assert answer.status_code == 200, answer.text
        assert jwt.decode(answer.json()["token"], options={"verify_signature": False})["sub"] == sub


@pytest.mark.parametrize("failing", ["register", "sign_in"])
def test_local_token_is_a_502_when_the_provider_fails(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    def fail(*_: object, **__: object) -> None:
        raise SignInFailed("PUT /users/user_1 -> 500: boom")

    monkeypatch.setattr(stack.identity, failing, fail)
    answer = api.post("/_local/token", json=token_body())
    assert answer.status_code == 502
    assert answer.json() == {
        "code": "identity_provider_failed",
        "message": "PUT /users/user_1 -> 500: boom",
    }


def test_local_webhook_secrets_are_the_documented_keys(api: Api) -> None:
    answer = api.get("/_local/webhook-secrets")
    assert answer.status_code == 200
    secrets = answer.json()
    assert secrets == {
        "payments": config.PAYMENTS_WEBHOOK_SECRET,
        "billing": config.BILLING_WEBHOOK_SECRET,
    }
    for key in secrets.values():
        assert key.startswith("whsec_")
        assert len(base64.b64decode(key.removeprefix("whsec_"))) == 32


# ----------------------------------------------------------------------------- JWT authorizer
# The fine points of each refusal are tested on auth.verify (tests/local_stack/test_auth.py);
# here, that the gateway of a running stack refuses them all, with the provider's real keys.

TEST_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def bad_tokens(stack: LocalStack) -> dict[str, str | None]:
    """Tokens the authorizer refuses: forged ones carry the provider's kid, signed by a key of
    the test; the wrong audience is the provider's own token for another client."""
    issuer = stack.identity.issuer
    kid = requests.get(issuer + "/jwks", timeout=30).json()["keys"][0]["kid"]
    now = int(time.time())
    good = {"iss": issuer, "aud": config.JWT_AUDIENCE, "sub": "u", "org_id": "o", "exp": now + 60}

    def forged(claims: dict[str, Any], algorithm: str = "RS256") -> str:
        key: Any = TEST_KEY if algorithm == "RS256" else ""
        return "Bearer " + jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})

    return {
        "missing": None,
        "not a jwt": "Bearer not-a-jwt",
        "empty bearer": "Bearer ",
        "wrong signature": forged(good),
        "wrong audience": "Bearer " + stack.identity.sign_in("user_e2e", "someone-else"),
        "wrong issuer": forged(good | {"iss": "https://evil.example"}),
        "expired": forged(good | {"exp": now - 60}),
        "no exp": forged({name: v for name, v in good.items() if name != "exp"}),
        "alg none": forged(good, algorithm="none"),
    }


BAD_TOKENS = [
    "missing",
    "not a jwt",
    "empty bearer",
    "wrong signature",
    "wrong audience",
    "wrong issuer",
    "expired",
    "no exp",
    "alg none",
]


def test_every_bad_token_case_is_tested(stack: LocalStack) -> None:
    assert list(bad_tokens(stack)) == BAD_TOKENS


@pytest.mark.parametrize("case", BAD_TOKENS)
def test_transactions_refuse_a_bad_token_with_401(api: Api, stack: LocalStack, case: str) -> None:
    authorization = bad_tokens(stack)[case]
    headers = {"authorization": authorization} if authorization is not None else {}
    answer = api.get("/transactions", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == UNAUTHORIZED


def test_a_valid_token_reaches_the_handler(api: Api, token: MintToken) -> None:
    answer = api.get("/transactions", token=token())
    assert answer.status_code != 401
    assert answer.headers["content-type"].startswith("application/json")


def test_openapi_document_needs_no_token(api: Api) -> None:
    answer = api.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.json()["openapi"].startswith("3.1")


def test_unknown_route_and_unknown_method_are_404(api: Api, token: MintToken) -> None:
    for method, path in [("GET", "/nowhere"), ("DELETE", "/transactions"), ("GET", "/_local/x")]:
        answer = api.request(method, path, token=token())
        assert answer.status_code == 404, (method, path)
        assert answer.json() == {"message": "Not Found", "code": "not_found"}


# ----------------------------------------------------------------------------- wiring


def test_webhooks_are_verified_with_the_local_secrets_from_secrets_manager(
    post_webhook: PostWebhook,
) -> None:
    event = {"type": "e2e.unknown", "occurred_at": "2026-11-25T12:00:00Z", "data": {}}
    assert post_webhook("payments", event).status_code == 200
    other_key = post_webhook("payments", event, secret=config.BILLING_WEBHOOK_SECRET)
    assert other_key.status_code == 401


def test_demo_data_is_delivered_through_the_webhooks(stack: LocalStack, token: MintToken) -> None:
    outcomes = demo.load(stack.url, org_id="org_demo_e2e")
    assert len(outcomes) == len(demo.FAILURES) + 1
    assert outcomes[0] in {"accepted", "ignored"}  # ignored when a newer state of it is stored
    assert set(outcomes[1:]) == {"accepted"}


def test_invoke_runs_a_function_of_the_template(stack: LocalStack) -> None:
    event = {
        "version": "2.0",
        "routeKey": "GET /openapi.json",
        "rawPath": "/openapi.json",
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": "/openapi.json"}, "stage": "$default"},
        "isBase64Encoded": False,
    }
    result = stack.invoke("ApiFunction", event)
    assert result["statusCode"] == 200


# ----------------------------------------------------------------------------- gateway + workers
# A throwaway template and handlers: what the gateway sends and how it reads the answers.

HANDLERS = """
import base64, json, os, sys, time

print("printed at import: must not reach the protocol")

def echo(event, context):
    print("printed by the handler: must not reach the protocol")
    sys.stdout.flush()
    seen = {
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
    }
    env = {name: os.environ.get(name) for name in (
        "TABLE_NAME", "GREETING", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB", "AWS_REGION", "AWS_DEFAULT_REGION",
        "PYTHONPATH")}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "context": seen, "env": env, "pid": os.getpid()})}

def plain(event, context):
    return {"hello": "wörld"}

def binary(event, context):
    return {"statusCode": 201, "headers": {"content-type": "image/png", "x-test": "yes"},
            "cookies": ["a=1; Path=/", "b=2"], "isBase64Encoded": True,
            "body": base64.b64encode(b"\\x89PNG\\x00\\xff").decode()}

def boom(event, context):
    raise RuntimeError("boom")

def hang(event, context):
    time.sleep(30)

def slow(event, context):
    time.sleep(0.3)
    return {"pid": os.getpid()}
"""

TEMPLATE = """
Globals:
  Function:
    Runtime: python3.13
    Timeout: 2
    MemorySize: 256
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Ref JwtIssuer
              audience: [!Ref JwtAudience]
  Table:
    Type: AWS::DynamoDB::Table
{functions}
"""

FUNCTION = """
  {name}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code}
      Handler: handlers.{handler}
      Environment:
        Variables:
          GREETING: !Sub "bonjour from ${{AWS::Region}}"
      Events:
        Route:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: {method}
            Path: {path}
{auth}"""

ROUTES = [  # function, code, handler, method, path, public
    ("Echo", "code/", "echo", "ANY", "/echo/{id}", False),
    ("EchoPublic", "code/", "echo", "POST", "/public/echo", True),
    ("Plain", "code/", "plain", "GET", "/plain", True),
    ("Binary", "code/", "binary", "GET", "/binary", True),
    ("Boom", "code/", "boom", "GET", "/boom", True),
    ("Hang", "code/", "hang", "GET", "/hang", True),
    ("Slow", "code/", "slow", "GET", "/slow", True),
    ("Broken", "broken/", "echo", "GET", "/broken", True),  # its module fails at import
]
PUBLIC = "            Auth:\n              Authorizer: NONE\n"


@pytest.fixture(scope="module")
def toy_identity() -> Iterator[IdentityProvider]:
    """The toy template's identity provider (its JwtIssuer), on a free port."""
    with IdentityProvider(0) as running:
        yield running


def toy_token(identity: IdentityProvider, groups: list[str]) -> str:
    identity.register("user_toy", "t@toy.example", "org_toy", groups)
    return identity.sign_in("user_toy", config.JWT_AUDIENCE)


@pytest.fixture(scope="module")
def toy(
    tmp_path_factory: pytest.TempPathFactory, toy_identity: IdentityProvider
) -> Iterator[tuple[Api, Workers]]:
    root = tmp_path_factory.mktemp("toy")
    (root / "code").mkdir()
    (root / "code" / "handlers.py").write_text(HANDLERS)
    (root / "broken").mkdir()
    (root / "broken" / "handlers.py").write_text("raise ImportError('cannot start')\n")
    text = TEMPLATE.format(
        functions="".join(
            FUNCTION.format(
                name=name, code=code, handler=handler, method=method, path=path,
                auth=PUBLIC if public else "",
            )
            for name, code, handler, method, path, public in ROUTES
        )
    )  # fmt: skip
    (root / "template.yaml").write_text(text)
    template = load(root / "template.yaml")
    values = LocalValues.of(template, JwtIssuer=toy_identity.issuer)
    values.refs["Table"] = "toy-table"
    runtimes = {
        name: runtime(
            function,
            environment(function, values),
            dynamodb_endpoint="http://127.0.0.1:8000",
            aws_endpoint="http://127.0.0.1:5000",
        )
        for name, function in functions(template, root).items()
    }
    with Workers(runtimes) as workers:
        gateway = Gateway(
            routes(template),
            jwt_authorizers(template, values),
            workers.invoke,
            {},
            port=free_port(),
        )
        with gateway:
            yield Api(gateway.url), workers


def echoed(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_event_is_payload_format_2(
    toy: tuple[Api, Workers], toy_identity: IdentityProvider
) -> None:
    api, _ = toy
    token = toy_token(toy_identity, ["billing_admin", "reader"])
    answer = api.session.get(
        api.url + "/echo/a%20b?x=1&x=2&empty=&y=%C3%A9",
        headers={
            "Authorization": f"Bearer {token}",
            "Cookie": "c1=v1; c2=v2",
            "X-Custom": "One",
            "User-Agent": "e2e-test",
        },
        timeout=30,
    )
    event = echoed(answer)["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /echo/{id}"
    assert event["rawPath"] == "/echo/a%20b"
    assert event["rawQueryString"] == "x=1&x=2&empty=&y=%C3%A9"
    assert event["queryStringParameters"] == {"x": "1,2", "empty": "", "y": "é"}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "One"
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["stage"] == "$default"
    assert context["routeKey"] == "ANY /echo/{id}"
    assert context["http"] == {
        "method": "GET",
        "path": "/echo/a b",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "e2e-test",
    }
    assert answer.headers["apigw-requestid"] == context["requestId"]
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60
    claims = context["authorizer"]["jwt"]["claims"]
    assert context["authorizer"]["jwt"]["scopes"] is None
    assert claims["groups"] == "[billing_admin reader]"
    assert claims["org_id"] == "org_toy"
    assert all(isinstance(value, str) for value in claims.values())
    assert claims["exp"].isdigit()


def test_repeated_headers_are_comma_joined(
    toy: tuple[Api, Workers], toy_identity: IdentityProvider
) -> None:
    api, _ = toy
    token = toy_token(toy_identity, [])
    connection = http.client.HTTPConnection(api.url.removeprefix("http://"), timeout=30)
    connection.putrequest("GET", "/echo/x")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("X-Multi", "a")
    connection.putheader("X-Multi", "b")
    connection.endheaders()
    reply = connection.getresponse()
    assert reply.status == 200
    assert json.loads(reply.read())["event"]["headers"]["x-multi"] == "a,b"
    connection.close()


def test_bodies_text_as_is_binary_in_base64(toy: tuple[Api, Workers]) -> None:
    api, _ = toy
    text = echoed(api.post("/public/echo", data='{"nom": "Éloïse"}'.encode()))["event"]
    assert text["body"] == '{"nom": "Éloïse"}'
    assert text["isBase64Encoded"] is False
    assert "authorizer" not in text["requestContext"]
    binary = echoed(api.post("/public/echo", data=b"\x89PNG\x00\xff"))["event"]
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x89PNG\x00\xff"


def test_context_and_environment_are_lambdas(toy: tuple[Api, Workers]) -> None:
    api, _ = toy
    seen = echoed(api.post("/public/echo"))
    assert seen["context"]["function_name"] == "EchoPublic"
    assert seen["context"]["memory_limit_in_mb"] == 256
    assert seen["context"]["invoked_function_arn"].endswith(":function:EchoPublic")
    assert 0 < seen["context"]["remaining_ms"] <= 2000
    assert seen["env"] == {
        "TABLE_NAME": "toy-table",
        "GREETING": f"bonjour from {config.REGION}",
        "AWS_LAMBDA_FUNCTION_NAME": "EchoPublic",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
        "AWS_REGION": config.REGION,
        "AWS_DEFAULT_REGION": config.REGION,
        "PYTHONPATH": seen["env"]["PYTHONPATH"],
    }
    assert seen["env"]["PYTHONPATH"].split(os.pathsep)[0].endswith("code")
    assert seen["pid"] != os.getpid()


def test_answers_are_read_as_http_api_reads_them(toy: tuple[Api, Workers]) -> None:
    api, _ = toy
    plain = api.get("/plain")
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/json"
    assert plain.json() == {"hello": "wörld"}
    binary = api.get("/binary")
    assert binary.status_code == 201
    assert binary.content == b"\x89PNG\x00\xff"
    assert binary.headers["x-test"] == "yes"
    assert binary.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]


def test_a_handler_that_raises_is_a_500_and_its_worker_lives_on(
    toy: tuple[Api, Workers],
) -> None:
    api, workers = toy
    for _ in range(2):
        answer = api.get("/boom")
        assert answer.status_code == 500
        assert answer.json() == {"message": "Internal Server Error", "code": "internal_error"}
    assert workers.pools["Boom"].cold_starts == 1


def test_a_module_that_fails_at_import_is_a_500(toy: tuple[Api, Workers]) -> None:
    api, _ = toy
    answer = api.get("/broken")
    assert answer.status_code == 500
    assert answer.json() == {"message": "Internal Server Error", "code": "internal_error"}


def test_a_handler_past_its_timeout_is_killed_and_answered_503(toy: tuple[Api, Workers]) -> None:
    api, workers = toy
    started = time.monotonic()
    answer = api.get("/hang")
    assert answer.status_code == 503
    assert answer.json() == {"message": "Service Unavailable", "code": "service_unavailable"}
    assert 2 <= time.monotonic() - started < 10
    assert not workers.pools["Hang"]._workers  # the hung process is gone


def test_workers_are_reused_and_at_most_four_per_function(toy: tuple[Api, Workers]) -> None:
    api, workers = toy
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: api.session.get(api.url + "/slow", timeout=30), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    pids = {a.json()["pid"] for a in answers}
    assert 1 <= len(pids) <= config.MAX_WORKERS_PER_FUNCTION
    assert workers.pools["Slow"].cold_starts == len(pids)
    again = {api.get("/slow").json()["pid"] for _ in range(3)}
    assert again <= pids


def test_protocol_survives_what_handlers_print(toy: tuple[Api, Workers]) -> None:
    api, _ = toy
    for _ in range(3):
        assert echoed(api.post("/public/echo"))["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "EchoPublic"


# ----------------------------------------------------------------------------- make dev


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc to find child processes")
def test_the_stack_command_stops_cleanly_on_sigterm() -> None:
    ports = {name: free_port() for name in config.PORT_VARIABLES.values()}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env={**os.environ, **{name: str(port) for name, port in ports.items()}},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        output = "".join(lines)
        url = f"http://127.0.0.1:{ports['PAC_GATEWAY_PORT']}"
        assert url in output
        assert config.PAYMENTS_WEBHOOK_SECRET in output
        issuer = f"http://127.0.0.1:{ports['PAC_OIDC_PORT']}"
        assert f"Identity provider (OpenID Connect) {issuer}" in output
        banner_token = re.search(r"Bearer ([\w.-]+)", output)
        assert banner_token is not None
        bearer = {"authorization": f"Bearer {banner_token[1]}"}
        assert requests.get(url + "/transactions", headers=bearer, timeout=30).status_code == 200
        assert requests.get(url + "/openapi.json", timeout=30).status_code == 200  # a worker runs
        started = children(process.pid)
        assert len(started) >= 3  # java, the moto server, a worker
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in started):
            assert time.monotonic() < deadline, "a child of the stack outlived it"
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_taken_port_fails_fast_with_its_name() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = LocalStack(gateway_port=port, dynamodb_port=None, moto_port=None, oidc_port=None)
        with pytest.raises(LocalServiceError, match=f"127.0.0.1:{port} \\(PAC_GATEWAY_PORT\\)"):
            stack.start()


def test_a_taken_identity_provider_port_fails_fast_with_its_name() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = LocalStack(gateway_port=None, dynamodb_port=None, moto_port=None, oidc_port=port)
        with pytest.raises(LocalServiceError, match=f"127.0.0.1:{port} \\(PAC_OIDC_PORT\\)"):
            stack.start()
