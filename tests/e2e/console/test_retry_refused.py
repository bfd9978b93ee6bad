"""A retry the card networks' or the banks' rules forbid (docs/contract.md §4.2, the retry guard),
in the console (console/payment-action-center.js), in headless Chromium against the local stack.

Under a row's actions, the entry's `retry_not_allowed` says why in the page's language, with the
rule as the API gives it (English), and from when a retry is allowed when waiting is the answer,
formatted as the failure date (the organization's time zone). A one-time e-check refused offers
no Retry; an installment keeps it, and a click the API refuses (409 `retry_not_allowed`) shows
the API's message in the alert, as other action errors are shown. An answer without the field
(an older API) shows no such line.

Each test works in an organization of its own (tests/e2e/console/test_console.py)."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import Api, MintToken, PostWebhook
from tests.e2e.console.conftest import screenshot
from tests.e2e.console.test_console import (
    CONSOLE,
    failure,
    new_org,
    no_serious_violations,
    opened,
    organization,
    row,
    switch_language,
)

# A Visa category 1 response code: never retry (domain/declines.py).
VISA_NEVER = {
    "code": "card_declined",
    "message": "",
    "network": "visa",
    "network_decline_code": "43",
}
# A Nacha return of an unauthorized debit: never present it again.
ACH_NEVER = {"code": "debit_returned", "message": "", "return_code": "R10"}
# Mastercard advice 25: retry after 24 hours.
MASTERCARD_LATER = {
    "code": "card_declined",
    "message": "",
    "network": "mastercard",
    "advice_code": "25",
}
# The list of entries (GET /transactions?…), not one entry or its actions.
LISTING = re.compile(r"/transactions(\?|$)")


def one_time_echeck(post_webhook: PostWebhook, org: str) -> str:
    return failure(
        post_webhook,
        org,
        "tok_echeck_pending",
        data__kind="one_time",
        data__method="echeck",
        data__scheduled_payment_id=None,
        data__failure=ACH_NEVER,
    )


def refusal_of(api: Api, jwt: str, payment_id: str) -> dict[str, Any]:
    """The entry's `retry_not_allowed` as the API gives it."""
    items = api.get("/transactions", jwt, params={"q": payment_id}).json()["items"]
    refusal: dict[str, Any] = items[0]["retry_not_allowed"]
    assert refusal, f"the API does not refuse a retry of {payment_id}"
    return refusal


def formatted(page: Page, instant: str, lang: str, time_zone: str) -> str:
    """`instant` as the console formats a failure date: medium date, short time, in the zone."""
    text: str = page.evaluate(
        """([instant, lang, timeZone]) => new Intl.DateTimeFormat(lang,
            {dateStyle: "medium", timeStyle: "short", timeZone}).format(new Date(instant))""",
        [instant, lang, time_zone],
    )
    return text


def test_a_refused_retry_says_why_and_a_one_time_echeck_offers_no_retry(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api
) -> None:
    org = new_org()
    organization(post_webhook, org)
    card = failure(post_webhook, org, data__failure=VISA_NEVER)
    echeck = one_time_echeck(post_webhook, org)
    jwt = token(org_id=org)
    card_reason = refusal_of(api, jwt, card)["reason"]
    echeck_reason = refusal_of(api, jwt, echeck)["reason"]
    opened(page, token, org, "en-CA")
    card_row = row(page, card)
    expect(card_row.locator(".refusal-reason")).to_have_text(f"Retry not allowed: {card_reason}")
    expect(card_row.locator(".refusal-allowed-at")).to_have_count(0)
    # An installment keeps Retry: the customer may have changed the card (the API decides).
    expect(card_row.get_by_role("button", name="Retry transaction")).to_be_visible()
    echeck_row = row(page, echeck)
    expect(echeck_row.locator(".refusal-reason")).to_have_text(
        f"Retry not allowed: {echeck_reason}"
    )
    expect(echeck_row.get_by_role("button", name="Retry transaction")).to_have_count(0)
    expect(echeck_row.get_by_role("button", name="Dismiss this transaction")).to_be_visible()
    no_serious_violations(page)
    screenshot(page, "retry-refused-en-CA")  # the README's image of the rules
    # In French, the reason as the API gives it (English).
    switch_language(page, "fr-CA", "Transactions échouées")
    expect(echeck_row.locator(".refusal-reason")).to_have_text(
        f"Nouvel essai non permis : {echeck_reason}"
    )
    expect(echeck_row.locator(".refusal-reason [lang=en]")).to_have_text(echeck_reason)
    expect(
        echeck_row.get_by_role("button", name="Nouvelle tentative de transaction")
    ).to_have_count(0)
    no_serious_violations(page)


def test_a_retry_the_rules_refuse_shows_the_api_message_and_from_when(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api
) -> None:
    org = new_org()
    time_zone = str(organization(post_webhook, org)["time_zone"])
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    payment_id = failure(
        post_webhook,
        org,
        occurred_at=two_hours_ago.isoformat(timespec="seconds").replace("+00:00", "Z"),
        data__failure=MASTERCARD_LATER,
    )
    refusal = refusal_of(api, token(org_id=org), payment_id)
    allowed_at = refusal["allowed_at"]
    assert allowed_at
    opened(page, token, org, "en-CA")
    line = row(page, payment_id)
    date = formatted(page, allowed_at, "en-CA", time_zone)
    expect(line.locator(".refusal-reason")).to_have_text(f"Retry not allowed: {refusal['reason']}")
    expect(line.locator(".refusal-allowed-at")).to_have_text(f"Retry allowed from {date}")
    expect(line.locator(".refusal-allowed-at time")).to_have_attribute("datetime", allowed_at)
    # The click the API refuses: its message, and from when, in the alert; the row stays.
    line.get_by_role("button", name="Retry transaction").click()
    alert = page.locator(f"{CONSOLE} [role=alert]")
    expect(alert).to_contain_text("may not be retried now")
    expect(alert).to_contain_text(f"Retry allowed from {date}")
    expect(line.locator("td.attempts")).to_have_text("1")
    no_serious_violations(page)
    switch_language(page, "fr-CA", "Transactions échouées")
    french = formatted(page, allowed_at, "fr-CA", time_zone)
    expect(line.locator(".refusal-allowed-at")).to_have_text(
        f"Nouvel essai permis à partir du {french}"
    )


def test_an_answer_without_the_field_shows_no_refusal(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    """An older API sends no `retry_not_allowed`: the rows are drawn as before."""
    org = new_org()
    organization(post_webhook, org)
    card = failure(post_webhook, org, data__failure=VISA_NEVER)

    def older(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        for item in body.get("items", []):
            item.pop("retry_not_allowed", None)
        route.fulfill(response=answer, json=body)

    page.route(LISTING, older)
    opened(page, token, org, "en-CA")
    expect(row(page, card).get_by_role("button", name="Retry transaction")).to_be_visible()
    expect(page.locator(f"{CONSOLE} .refusal")).to_have_count(0)
    expect(page.locator(f"{CONSOLE} [role=alert]")).to_be_empty()
