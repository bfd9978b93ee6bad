"""The console's pages in the local gateway (local/static.py): the demo host page, the files of
console/ and nothing else, typed, with the production security headers."""

import json
import re
from pathlib import Path

import pytest

from local import stack, static
from local.gateway import CompiledRoute, Gateway, shadowed_routes
from local.services import LocalServiceError
from local.template import TEMPLATE_PATH, Route, cloudformation, load, routes

NOT_FOUND = {"message": "Not Found", "code": "not_found"}


@pytest.fixture
def site(tmp_path: Path) -> static.ConsolePages:
    """A console/ of its own, a secret beside it, and a symlink in it leading out."""
    console = tmp_path / "console"
    (console / "i18n").mkdir(parents=True)
    (console / "payment-action-center.js").write_text("export {};\n")
    (console / "i18n" / "fr-CA.json").write_text('{"title": "Centre"}')
    (console / "styles.css").write_text("p {}")
    (console / "logo.svg").write_text("<svg/>")
    (console / "logo.png").write_bytes(b"\x89PNG")
    (console / "index.html").write_text("<!DOCTYPE html>")
    (console / "notes.md").write_text("# not served")
    (console / ".hidden.js").write_text("secret")
    (tmp_path / "secret.js").write_text("secret")
    (console / "escape.js").symlink_to(tmp_path / "secret.js")
    (console / "inside.js").symlink_to(console / "payment-action-center.js")
    return static.ConsolePages(console_dir=console)


def headers_of(response: object) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/console/payment-action-center.js", "text/javascript; charset=utf-8"),
        ("/console/i18n/fr-CA.json", "application/json"),
        ("/console/styles.css", "text/css; charset=utf-8"),
        ("/console/logo.svg", "image/svg+xml"),
        ("/console/logo.png", "image/png"),
        ("/console/index.html", "text/html; charset=utf-8"),
    ],
)
def test_a_console_file_is_served_typed_by_its_extension_and_never_cached_stale(
    site: static.ConsolePages, path: str, content_type: str
) -> None:
    response = site.answer("GET", path)

    assert response is not None
    assert response.status == 200
    assert response.body == (site.console_dir / path.removeprefix("/console/")).read_bytes()
    assert headers_of(response)["content-type"] == content_type
    assert headers_of(response)["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/console/",  # no listing
        "/console/i18n",
        "/console/i18n/",
        "/console/missing.js",
        "/console/../secret.js",
        "/console/i18n/../../secret.js",
        "/console/./payment-action-center.js",
        "/console//payment-action-center.js",
        "/console/escape.js",  # a symlink out of console/
        "/console/.hidden.js",
        "/console/notes.md",  # a type the console does not serve
        "/console/payment-action-center.js\x00.png",
        "/console/..\\secret.js",
    ],
)
def test_anything_but_a_served_file_inside_console_is_the_gateways_404(
    site: static.ConsolePages, path: str
) -> None:
    response = site.answer("GET", path)

    assert response is not None
    assert response.status == 404
    assert json.loads(response.body) == NOT_FOUND
    assert headers_of(response)["content-type"] == "application/json"


def test_a_symlink_that_stays_inside_console_is_served(site: static.ConsolePages) -> None:
    response = site.answer("GET", "/console/inside.js")

    assert response is not None
    assert response.status == 200


HOST_CONFIG = {
    "api_base": "http://127.0.0.1:3000",
    "issuer": "http://127.0.0.1:3001",
    "client_id": "payment-action-center-local",
    "scope": "openid email",
}


def test_every_answer_carries_the_production_security_headers(
    site: static.ConsolePages,
) -> None:
    for path in ("/", "/_local/console-demo.js", "/console/styles.css", "/console/nope.js"):
        response = site.answer("GET", path)
        assert response is not None
        headers = headers_of(response)
        assert headers["content-security-policy"] == (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; "
            "form-action 'self'"
        ), path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path


def test_the_host_pages_config_is_served_and_its_issuer_may_be_called(tmp_path: Path) -> None:
    site = static.ConsolePages(console_dir=tmp_path, host_config=HOST_CONFIG)

    config = site.answer("GET", "/console/config.json")
    missing = site.answer("GET", "/console/nope.js")

    assert config is not None and missing is not None
    assert config.status == 200
    assert json.loads(config.body) == HOST_CONFIG
    assert headers_of(config)["content-type"] == "application/json"
    for response in (config, missing):
        policy = headers_of(response)["content-security-policy"]
        assert "connect-src 'self' http://127.0.0.1:3001;" in policy


def test_without_a_host_config_there_is_no_config_json(site: static.ConsolePages) -> None:
    response = site.answer("GET", "/console/config.json")

    assert response is not None
    assert response.status == 404


def test_the_standalone_host_page_has_no_inline_script_or_style() -> None:
    page = (static.CONSOLE_DIR / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.DOTALL)

    assert scripts == [(' type="module" src="./host.js"', "")]
    assert "<style" not in page and " style=" not in page
    assert " on" not in re.sub(r"<!--.*?-->", "", page, flags=re.DOTALL).replace("\n", " ")


def test_the_demo_page_and_its_script_are_served_at_slash(site: static.ConsolePages) -> None:
    page = site.answer("GET", "/")
    script = site.answer("HEAD", "/_local/console-demo.js")

    assert page is not None and script is not None
    assert page.body == static.DEMO_PAGE.read_bytes()
    assert headers_of(page)["content-type"] == "text/html; charset=utf-8"
    assert headers_of(script)["content-type"] == "text/javascript; charset=utf-8"


def test_the_demo_page_has_no_inline_script_so_the_strict_csp_holds() -> None:
    page = static.DEMO_PAGE.read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.DOTALL)

    assert scripts == [(' type="module" src="/_local/console-demo.js"', "")]
    assert " on" not in re.sub(r"<!--.*?-->", "", page, flags=re.DOTALL).replace("\n", " ")


def test_the_demo_page_signs_in_as_the_banners_demo_admin() -> None:
    script = static.DEMO_SCRIPT.read_text(encoding="utf-8")
    declared = re.search(r"^const DEMO_ADMIN = (\{.*\});$", script, flags=re.MULTILINE)

    assert declared is not None
    assert json.loads(declared[1]) == stack.DEMO_ADMIN


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/"), ("PUT", "/console/payment-action-center.js"), ("GET", "/transactions"),
     ("GET", "/_local/health"), ("GET", "/consoles/x.js"), ("GET", "/console")],
)  # fmt: skip
def test_other_requests_are_left_to_the_gateways_routes(
    site: static.ConsolePages, method: str, path: str
) -> None:
    assert site.answer(method, path) is None


def invoke(function_id: str, event: dict[str, object]) -> object:
    raise AssertionError("no function is called")


@pytest.mark.parametrize(
    "route",
    [Route("GET", "/", "Api", None), Route("ANY", "/console/{file}", "Api", None),
     Route("GET", "/{proxy+}", "Api", None)],
)  # fmt: skip
def test_a_template_route_the_console_would_shadow_is_refused(route: Route) -> None:
    with pytest.raises(LocalServiceError, match=re.escape(route.key)):
        Gateway([route], {}, invoke, {}, pages=static.ConsolePages())


def test_routes_beside_the_console_are_kept() -> None:
    kept = [
        Route("POST", "/", "Api", None),
        Route("GET", "/consoles", "Api", None),
        Route("ANY", "$default", "Api", None),
    ]

    gateway = Gateway(kept, {}, invoke, {}, pages=static.ConsolePages())

    assert len(gateway.routes) == 3


def test_template_yaml_has_no_route_where_the_console_is_served() -> None:
    compiled = [CompiledRoute.of(route) for route in routes(cloudformation(load(TEMPLATE_PATH)))]

    assert compiled
    assert shadowed_routes(compiled, static.ConsolePages()) == []
