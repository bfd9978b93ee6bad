"""The console's browser harness: Debian's chromium driven by Playwright, on the demo host page
the local gateway serves at / (local/static.py, local/console_demo.html), over the e2e `stack`
(tests/e2e/conftest.py; these tests are e2e by their path, as every test below tests/e2e/).

What the harness expects of the component (console/payment-action-center.js): it defines the
custom element <payment-action-center> with an open shadow root, and sets a `data-ready`
attribute on its root element inside that shadow root once its first table load has finished
(data or not). `open_console` waits for that, so a test starts from a settled screen.

The browser is chromium from apt (`make` installs it; PAC_CHROMIUM names another executable):
`playwright install` and its downloaded browsers are never used. Contexts bypass the page's CSP
(`bypass_csp=True`) so that `axe_violations` can inject axe-core as an inline script; the CSP
itself is checked with `strict_page`, a context that enforces it.

Screenshots go to build/screenshots/console-<name>.png; with PAC_WRITE_DOCS_SCREENSHOTS=1
(`make screenshots`) also to docs/images/console-<name>.png, the README's images, so that
`make test` never changes the tree.
"""

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, sync_playwright

from local.stack import LocalStack
from tests.shared.lambdas import ROOT

CHROMIUM = Path(os.environ.get("PAC_CHROMIUM") or "/usr/bin/chromium")
AXE_SCRIPT = ROOT / "local" / "node_modules" / "axe-core" / "axe.min.js"
COMPONENT = ROOT / "console" / "payment-action-center.js"
SCREENSHOTS_DIR = ROOT / "build" / "screenshots"
DOCS_IMAGES_DIR = ROOT / "docs" / "images"
WRITE_DOCS_VARIABLE = "PAC_WRITE_DOCS_SCREENSHOTS"
LANGUAGES = ("fr-CA", "en-CA")
# The first load starts the API function's workers (a cold start of a second or more).
READY_TIMEOUT_MS = 60_000


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless chromium for the package. `--no-sandbox`: the tests run as root, and chromium
    refuses to start its sandbox as root."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def console_lang() -> str:
    """The page's locale; parametrize `console_lang` to run a test in each language."""
    return LANGUAGES[0]


def new_context(
    browser: Browser, stack: LocalStack, lang: str, *, bypass_csp: bool
) -> BrowserContext:
    return browser.new_context(
        base_url=stack.url,
        locale=lang,
        bypass_csp=bypass_csp,
        viewport={"width": 1280, "height": 800},
    )


@pytest.fixture
def context(browser: Browser, stack: LocalStack, console_lang: str) -> Iterator[BrowserContext]:
    """A fresh context (no cookies, no storage) per test, its base URL the stack's gateway."""
    fresh = new_context(browser, stack, console_lang, bypass_csp=True)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def strict_page(browser: Browser, stack: LocalStack, console_lang: str) -> Iterator[Page]:
    """A page whose context enforces the CSP (local/static.py), as production will."""
    fresh = new_context(browser, stack, console_lang, bypass_csp=False)
    yield fresh.new_page()
    fresh.close()


def require_component() -> None:
    if not COMPONENT.is_file():
        pytest.skip(f"{COMPONENT.relative_to(ROOT)} does not exist yet")


def console_path(lang: str = LANGUAGES[0], query: str = "") -> str:
    """The demo page's path: /?lang=<lang>, then `query` (already encoded, no leading &)."""
    path = "/?" + urlencode({"lang": lang})
    return f"{path}&{query.lstrip('&')}" if query else path


def open_console(page: Page, lang: str = LANGUAGES[0], query: str = "") -> Locator:
    """Open the demo page in `lang` and wait until the component has rendered its first table
    load (`[data-ready]` in its shadow root); the component's locator. Fails at once with the
    demo page's reason if it could not mount the component (local/console_demo.js)."""
    require_component()
    page.goto(console_path(lang, query))
    page.wait_for_selector("payment-action-center, main[data-demo-state=failed]", state="attached")
    page.wait_for_function(
        """() => document.querySelector('main[data-demo-state=failed]') !== null
            || document.querySelector('payment-action-center')
                ?.shadowRoot?.querySelector('[data-ready]') != null""",
        timeout=READY_TIMEOUT_MS,
    )
    failed = page.locator("main[data-demo-state=failed]")
    if failed.count():
        pytest.fail(failed.inner_text())
    return page.locator("payment-action-center")


def axe_violations(
    page: Page, impacts: Sequence[str] = ("serious", "critical"), exclude: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """axe-core's violations of these impacts on the whole document (open shadow roots
    included): [{"id", "impact", "targets": [each node's target]}]. `exclude`: CSS selectors
    of parts left out. Injected as an inline script, once per document (a test may check several
    views of one page): the context must bypass the CSP (`page`)."""
    if not page.evaluate("() => typeof window.axe?.run === 'function'"):
        page.add_script_tag(content=AXE_SCRIPT.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        """async (exclude) => {
            const context = exclude.length
                ? {exclude: exclude.map((selector) => [selector])}
                : document;
            const results = await axe.run(context);
            return results.violations.map((violation) => ({
                id: violation.id,
                impact: violation.impact,
                targets: violation.nodes.map((node) => node.target),
            }));
        }""",
        list(exclude),
    )
    return [violation for violation in violations if violation["impact"] in impacts]


def screenshot(page: Page, name: str) -> Path:
    """build/screenshots/console-<name>.png, and docs/images/console-<name>.png as well with
    PAC_WRITE_DOCS_SCREENSHOTS=1 (`make screenshots`): the path in build/."""
    built = SCREENSHOTS_DIR / f"console-{name}.png"
    built.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=built, full_page=True)
    if os.environ.get(WRITE_DOCS_VARIABLE) == "1":
        DOCS_IMAGES_DIR.mkdir(parents=True, exist_ok=True)
        (DOCS_IMAGES_DIR / built.name).write_bytes(built.read_bytes())
    return built
