"""The browser harness itself (tests/e2e/console/conftest.py): the demo host page loads in
chromium from the local gateway, asks for the component, holds under the production CSP, and
axe-core and the screenshots work."""

from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page

from tests.e2e.console import conftest
from tests.e2e.console.conftest import (
    axe_violations,
    console_path,
    open_console,
    require_component,
    screenshot,
)

COMPONENT_URL_PATH = "/console/payment-action-center.js"
FRENCH_TITLE = "Centre d\N{RIGHT SINGLE QUOTATION MARK}actions de paiement — démo locale"


def test_the_demo_page_loads_and_asks_for_the_component(page: Page) -> None:
    require_component()
    with page.expect_response(lambda answer: answer.url.endswith(COMPONENT_URL_PATH)) as asked:
        answer = page.goto(console_path("fr-CA"))

    assert answer is not None and answer.status == 200
    assert asked.value.status == 200
    assert asked.value.headers["content-type"] == "text/javascript; charset=utf-8"
    page.wait_for_selector("main:not([data-demo-state=loading])", state="attached")
    assert page.locator("html").get_attribute("lang") == "fr-CA"
    assert page.title() == FRENCH_TITLE


@pytest.mark.parametrize("console_lang", ["en-CA"])
def test_the_demo_page_mounts_the_component_in_the_asked_language(page: Page) -> None:
    require_component()
    page.goto(console_path("en-CA"))
    page.wait_for_selector("main:not([data-demo-state=loading])", state="attached")

    assert page.locator("main").get_attribute("data-demo-state") == "mounted", page.inner_text(
        "main"
    )
    element = page.locator("payment-action-center")
    assert element.get_attribute("lang") == "en-CA"
    assert element.get_attribute("api-base") == page.evaluate("window.location.origin")
    assert page.evaluate("document.querySelector('payment-action-center').token").count(".") == 2
    assert page.title() == "Payment Action Center — local demo"


def test_the_demo_page_holds_under_the_production_csp(strict_page: Page) -> None:
    require_component()
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    strict_page.on("console", note)
    strict_page.goto(console_path("fr-CA"))
    strict_page.wait_for_selector("main:not([data-demo-state=loading])", state="attached")
    strict_page.wait_for_load_state("networkidle")

    assert strict_page.locator("main").get_attribute("data-demo-state") == "mounted"
    assert refused == []


def test_axe_core_runs_in_the_page(page: Page) -> None:
    page.goto(console_path("fr-CA"))
    page.wait_for_selector("main:not([data-demo-state=loading])", state="attached")

    # The host page's own shell; the component's are its own tests' business.
    assert axe_violations(page, exclude=["payment-action-center"]) == []
    assert page.evaluate("typeof axe.run") == "function"


def test_a_screenshot_goes_to_build_and_to_docs_only_when_asked(
    page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conftest, "SCREENSHOTS_DIR", tmp_path / "build")
    monkeypatch.setattr(conftest, "DOCS_IMAGES_DIR", tmp_path / "docs")
    page.set_content("<main>harness</main>")

    monkeypatch.delenv(conftest.WRITE_DOCS_VARIABLE, raising=False)
    built = screenshot(page, "harness")
    assert built == tmp_path / "build" / "console-harness.png"
    assert built.read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "docs").exists()

    monkeypatch.setenv(conftest.WRITE_DOCS_VARIABLE, "1")
    screenshot(page, "harness")
    assert (tmp_path / "docs" / "console-harness.png").read_bytes() == built.read_bytes()


def test_open_console_waits_for_the_components_first_table_load(page: Page) -> None:
    element = open_console(page, "fr-CA")

    assert element.get_attribute("lang") == "fr-CA"
    assert page.evaluate(
        "document.querySelector('payment-action-center').shadowRoot.querySelector('[data-ready]')"
        " !== null"
    )
