"""The console's Recovery panel (console/payment-action-center.js): the organization's recovery
figures of the last 30 days (GET /metrics/recovery) in words, in a table of how they were
recovered, and in a small chart by week with its table, in both languages, with axe. In
headless Chromium against the local stack; each test in an organization of its own."""

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Api, MintToken, PostWebhook, WaitForQueues
from tests.e2e.console.conftest import screenshot
from tests.e2e.console.test_console import (
    CONSOLE,
    entry_id_of,
    failure,
    new_org,
    no_serious_violations,
    opened,
    organization,
    switch_language,
)

PANEL = f"{CONSOLE} #recovery"


def spaced(text: str) -> re.Pattern[str]:
    """The text, any space in it also a no-break or narrow no-break space (Intl's French)."""
    return re.compile("^" + re.escape(text).replace(r"\ ", r"[\s\u202f]") + "$")


def test_the_recovery_panel_says_the_figures_in_words_a_table_and_a_chart(
    page: Page,
    token: MintToken,
    post_webhook: PostWebhook,
    api: Api,
    queues_idle: WaitForQueues,
) -> None:
    org = new_org()
    organization(post_webhook, org)
    jwt = token(org_id=org)
    recovered = entry_id_of(api, jwt, failure(post_webhook, org, "tok_success"))
    dismissed = entry_id_of(api, jwt, failure(post_webhook, org, "tok_card_declined"))
    failure(post_webhook, org, "tok_card_declined")  # still open
    assert api.post(f"/transactions/{recovered}/retry", jwt).status_code == 202
    assert api.post(f"/transactions/{dismissed}/dismiss", jwt, json={}).status_code == 200
    queues_idle()

    opened(page, token, org, "en-CA")
    panel = page.locator(PANEL)
    expect(panel.locator("h2")).to_have_text("Recovery")
    figure = {
        key: panel.locator(f"dd[data-figure={key}]")
        for key in ("failed", "recovered", "rate", "at_risk", "dismissed", "median")
    }
    expect(figure["failed"]).to_have_text("$375.00 (3 transactions)")
    expect(figure["recovered"]).to_have_text("$125.00 (1 transaction)")
    expect(figure["rate"]).to_have_text("33.3%")
    expect(figure["at_risk"]).to_have_text("$125.00 (1 transaction)")
    expect(figure["dismissed"]).to_have_text("$125.00 (1 transaction)")
    expect(figure["median"]).to_have_text("0 hours")
    how = panel.get_by_role("table", name="How they were recovered")
    expect(how.get_by_role("row", name=re.compile("^Manual retry"))).to_have_text(
        re.compile(r"Manual retry\s*\$125\.00\s*1 transaction")
    )
    expect(how.get_by_role("row", name=re.compile("^Payment method changed"))).to_contain_text(
        "0 transactions"
    )
    weeks = panel.get_by_role("table", name="By week of first failure")
    expect(weeks.locator("tr")).to_have_count(6)  # the header and five weeks of 30 days
    expect(weeks).to_contain_text("$375.00")
    bars = panel.locator("svg rect[data-bar=failed]")
    expect(bars).to_have_count(5)
    expect(panel.locator("svg")).to_have_attribute("aria-hidden", "true")
    no_serious_violations(page)
    screenshot(page, "recovery-en-CA")

    switch_language(page, "fr-CA", "Transactions échouées")
    expect(panel.locator("h2")).to_have_text("Récupération")
    expect(figure["rate"]).to_have_text(spaced("33,3 %"))
    expect(figure["failed"]).to_have_text(spaced("375,00 $ (3 transactions)"))
    expect(panel.get_by_role("table", name="Comment elles ont été récupérées")).to_contain_text(
        "Nouvel essai manuel"
    )
    no_serious_violations(page)


def test_an_organization_without_failures_says_so(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org)
    opened(page, token, org, "fr-CA")
    panel = page.locator(PANEL)
    expect(panel.locator(".empty")).to_have_text(
        "Aucune transaction n'a échoué pendant cette période."
    )
    expect(panel.locator("svg")).to_have_count(0)
    no_serious_violations(page)
