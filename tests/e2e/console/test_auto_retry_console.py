"""The next automatic retry in the console (console/payment-action-center.js): under a row's
actions, the entry's `next_automatic_retry_at` said as "today", "tomorrow", "the day after" or a
date, by the calendar of the organization's time zone, in the page's language; nothing without
it. In headless Chromium against the local stack, with axe.

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

LISTING = re.compile(r"/transactions(\?|$)")


def wire(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def now() -> str:
    """A failure's occurred_at of now: its day 1 is tomorrow in the organization's zone."""
    return wire(datetime.now(UTC))


def test_a_policy_on_shows_the_first_automatic_retry_tomorrow(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api
) -> None:
    org = new_org()
    organization(post_webhook, org, data__time_zone="America/Toronto")
    soft = failure(post_webhook, org, "tok_card_declined", occurred_at=now())
    hard = failure(
        post_webhook,
        org,
        occurred_at=now(),
        data__failure={"code": "stolen_card", "message": "Stolen card."},
    )
    answer = api.request("PUT", "/retry-policy", token(org_id=org), json={"enabled": True})
    assert answer.status_code == 200, answer.text
    opened(page, token, org, "en-CA")
    line = row(page, soft).locator(".auto-retry")
    expect(line).to_have_text("Automatic retry scheduled tomorrow")
    expect(line.locator("time")).to_have_attribute("datetime", re.compile(r"T1[34]:00:00Z$"))
    expect(row(page, hard).locator(".auto-retry")).to_have_count(0)  # never_retry: never
    no_serious_violations(page)
    screenshot(page, "auto-retry-en-CA")  # the README's image of the policy
    switch_language(page, "fr-CA", "Transactions échouées")
    expect(line).to_have_text("Nouvel essai automatique prévu demain")
    no_serious_violations(page)


def test_today_tomorrow_the_day_after_and_later_in_both_languages(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org, data__time_zone="America/Toronto")
    payments = [failure(post_webhook, org, "tok_card_declined") for _ in range(5)]
    now = datetime.now(UTC)
    # By payment: today (an instant just past is today's too), tomorrow, the day after, later,
    # and none.
    when: dict[str, str | None] = {
        payments[0]: wire(now),
        payments[1]: wire(now + timedelta(days=1)),
        payments[2]: wire(now + timedelta(days=2)),
        payments[3]: wire(now + timedelta(days=5)),
        payments[4]: None,
    }

    def scheduled(route: Route) -> None:
        answer = route.fetch()
        body: dict[str, Any] = answer.json()
        for item in body.get("items", []):
            if item["payment_id"] in when:
                item["next_automatic_retry_at"] = when[item["payment_id"]]
        route.fulfill(response=answer, json=body)

    page.route(LISTING, scheduled)
    opened(page, token, org, "en-CA")
    expect(row(page, payments[0]).locator(".auto-retry")).to_have_text(
        "Automatic retry scheduled today"
    )
    expect(row(page, payments[1]).locator(".auto-retry")).to_have_text(
        "Automatic retry scheduled tomorrow"
    )
    expect(row(page, payments[2]).locator(".auto-retry")).to_have_text(
        "Automatic retry scheduled the day after"
    )
    later = row(page, payments[3]).locator(".auto-retry")
    expect(later).to_have_text(re.compile(r"^Automatic retry scheduled on \w{3} \d{1,2}, \d{4}$"))
    expect(row(page, payments[4]).locator(".auto-retry")).to_have_count(0)
    no_serious_violations(page)
    switch_language(page, "fr-CA", "Transactions échouées")
    expect(row(page, payments[0]).locator(".auto-retry")).to_have_text(
        "Nouvel essai automatique prévu aujourd'hui"
    )
    expect(row(page, payments[1]).locator(".auto-retry")).to_have_text(
        "Nouvel essai automatique prévu demain"
    )
    expect(row(page, payments[2]).locator(".auto-retry")).to_have_text(
        "Nouvel essai automatique prévu après-demain"
    )
    expect(later).to_have_text(re.compile(r"^Nouvel essai automatique prévu le \d{1,2} .+ \d{4}$"))
    no_serious_violations(page)


def test_a_billing_admin_turns_the_policy_on_in_the_console(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api
) -> None:
    org = new_org()
    organization(post_webhook, org, data__time_zone="America/Toronto")
    soft = failure(post_webhook, org, "tok_card_declined", occurred_at=now())
    opened(page, token, org, "en-CA")
    section = page.locator(f"{CONSOLE} #retry-policy")
    expect(section.get_by_role("heading", name="Automatic retries")).to_be_visible()
    enabled = section.get_by_label("Retry soft declines automatically")
    expect(enabled).not_to_be_checked()
    expect(section.get_by_label("Days after the failure (comma-separated)")).to_have_value(
        "1, 3, 7, 14"
    )
    expect(row(page, soft).locator(".auto-retry")).to_have_count(0)
    no_serious_violations(page)
    # A rule broken: the API's 400 in the alert, nothing saved.
    enabled.check()
    section.get_by_label("Days after the failure (comma-separated)").fill("3, 1")
    section.get_by_role("button", name="Save").click()
    expect(page.locator(f"{CONSOLE} [role=alert]")).to_contain_text("strictly increasing")
    assert api.get("/retry-policy", token(org_id=org)).json()["enabled"] is False
    section.get_by_label("Days after the failure (comma-separated)").fill("1, 2")
    section.get_by_role("button", name="Save").click()
    expect(page.locator(f"{CONSOLE} [role=status]")).to_have_text(
        "The automatic retries are saved."
    )
    saved = api.get("/retry-policy", token(org_id=org)).json()
    assert (saved["enabled"], saved["days"], saved["local_time"]) == (True, [1, 2], "09:00")
    # The table follows: the first attempt is tomorrow.
    expect(row(page, soft).locator(".auto-retry")).to_have_text(
        "Automatic retry scheduled tomorrow"
    )
    no_serious_violations(page)
