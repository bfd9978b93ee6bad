"""The console served by the running local stack over HTTP (local/static.py): the demo host page
at /, its script, the files of console/, the standalone page's config.json, each with the
production security headers, and the gateway's 404 for anything else."""

import http.client
import json
from collections.abc import Callable
from typing import Any

import pytest

from local import static
from local.stack import LocalStack
from tests.e2e.conftest import Api
from tests.shared.lambdas import ROOT


@pytest.fixture(scope="module")
def assert_secured(stack: LocalStack) -> Callable[[Any], None]:
    """Checks the production security headers, connect-src naming the stack's provider."""
    expected = dict(static.security_headers([stack.identity.issuer]))

    def check(headers: Any) -> None:
        for name, value in expected.items():
            assert headers[name] == value, name

    return check


def raw_get(url: str, target: str) -> tuple[int, Any, Any]:
    """GET with the target as written: requests would remove its dot segments first."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("GET", target)
        answer = connection.getresponse()
        return answer.status, answer.headers, json.loads(answer.read())
    finally:
        connection.close()


def test_slash_is_the_demo_host_page(api: Api, assert_secured: Callable[[Any], None]) -> None:
    answer = api.get("/?lang=en-CA")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="/_local/console-demo.js"></script>' in answer.text
    assert_secured(answer.headers)
    assert api.request("HEAD", "/").status_code == 200


def test_the_demo_pages_script_is_served_as_javascript(api: Api) -> None:
    answer = api.get("/_local/console-demo.js")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "payment-action-center" in answer.text


def test_the_component_is_served_from_console(
    api: Api, assert_secured: Callable[[Any], None]
) -> None:
    component = ROOT / "console" / "payment-action-center.js"

    answer = api.get("/console/payment-action-center.js")

    assert answer.status_code == 200
    assert answer.content == component.read_bytes()
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    assert_secured(answer.headers)


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/no-such-file.js",
        "/console/../template.yaml",
        "/console/%2e%2e/template.yaml",
        "/console/..%2ftemplate.yaml",
        "/console/%2e%2e%2flocal/config.py",
    ],
)
def test_anything_else_under_console_is_the_gateways_404(
    api: Api, path: str, assert_secured: Callable[[Any], None]
) -> None:
    status, headers, body = raw_get(api.url, path)

    assert status == 404
    assert body == {"message": "Not Found", "code": "not_found"}
    assert_secured(headers)


def test_the_standalone_page_and_its_config_are_served(
    api: Api, stack: LocalStack, assert_secured: Callable[[Any], None]
) -> None:
    page = api.get("/console/index.html")
    config = api.get("/console/config.json")

    assert page.status_code == 200
    assert page.content == (ROOT / "console" / "index.html").read_bytes()
    assert config.status_code == 200
    assert config.headers["content-type"] == "application/json"
    assert config.json() == {
        "api_base": stack.url,
        "issuer": stack.identity.issuer,
        "client_id": "payment-action-center-local",
        "scope": "openid email",
    }
    assert_secured(page.headers)
    assert_secured(config.headers)


def test_a_method_other_than_get_on_slash_finds_no_route(api: Api) -> None:
    answer = api.post("/", json={})

    assert answer.status_code == 404
    assert answer.json() == {"message": "Not Found", "code": "not_found"}


def test_the_api_is_unchanged_beside_the_console(api: Api) -> None:
    assert api.get("/transactions").status_code == 401
    assert api.get("/_local/health").json() == {"status": "ready"}
