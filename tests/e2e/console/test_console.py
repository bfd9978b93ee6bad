"""The console in headless Chromium against the local stack (console/payment-action-center.js):
the table and its filters, the actions of a row, the history, the expiring cards, the email
preference, both languages, accessibility (axe-core) and the faults a person meets.

axe-core checks each view where a test shows it (no serious or critical violation): the table
with rows and filtered, the empty table, the history, the dismiss dialog, a pending retry (its
clock, then "Check again"), the expiring cards, the preferences (on every page) and an error
shown, most of them in both languages.

Each test works in an organization of its own: the demo page signs in as org_demo, then the test
hands the component a token of its organization (`element.token = …`), as a host page would."""

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from payment_action_center.domain.cards import next_month
from tests.e2e.conftest import Api, MintToken, PostWebhook, WaitForQueues
from tests.e2e.console.conftest import axe_violations, open_console, screenshot
from tests.shared import factories

CONSOLE = "payment-action-center"


def new_org() -> str:
    return f"org_{uuid.uuid4().hex[:10]}"


def organization(post_webhook: PostWebhook, org: str, **overrides: Any) -> dict[str, Any]:
    body = factories.organization_upserted(data__organization_id=org, **overrides)
    assert post_webhook("billing", body).json()["status"] == "accepted"
    return dict(body["data"])


def failure(
    post_webhook: PostWebhook, org: str, token: str = "tok_success", **overrides: Any
) -> str:
    body = factories.payment_failed(
        data__organization_id=org, data__payment_method={"token": token}, **overrides
    )
    assert post_webhook("payments", body).json()["status"] == "accepted"
    return str(body["data"]["payment_id"])


def sign_in(page: Page, jwt: str) -> None:
    """Hand the component the organization's token, as a host page does, and wait until it has
    loaded that organization (its root is busy from the token's setting to the last answer)."""
    page.evaluate("jwt => { document.querySelector('payment-action-center').token = jwt; }", jwt)
    page.wait_for_function(
        """() => document.querySelector('payment-action-center')
            .shadowRoot.querySelector('.root').getAttribute('aria-busy') === 'false'"""
    )


def row(page: Page, payment_id: str) -> Any:
    return page.locator(f"{CONSOLE} tbody tr", has_text=payment_id)


def opened(page: Page, token: MintToken, org: str, lang: str = "fr-CA", query: str = "") -> None:
    open_console(page, lang, query)
    sign_in(page, token(org_id=org))


def no_serious_violations(page: Page) -> None:
    assert axe_violations(page) == []


def entry_id_of(api: Api, jwt: str, payment_id: str) -> str:
    return str(api.get("/transactions", jwt, params={"q": payment_id}).json()["items"][0]["id"])


def switch_language(page: Page, lang: str, title: str) -> None:
    page.locator(f"{CONSOLE} select[name=language]").select_option(lang)
    expect(page.locator(f"{CONSOLE} h1")).to_have_text(title)


# ---------------------------------------------------------------------------- the table


@pytest.mark.parametrize(
    ("lang", "title", "amount", "kind"),
    [
        ("fr-CA", "Transactions échouées", "125,00 $", "Versement"),
        ("en-CA", "Failed transactions", "$125.00", "Installment"),
    ],
)
def test_the_table_shows_a_failure_in_each_language(
    page: Page,
    token: MintToken,
    post_webhook: PostWebhook,
    lang: str,
    title: str,
    amount: str,
    kind: str,
) -> None:
    org = new_org()
    sent = organization(post_webhook, org)
    payment_id = failure(
        post_webhook,
        org,
        data__amount=12500,
        data__invoice_items=[{"invoice_id": "inv_1", "item_id": "item_1", "amount": 12500}],
        data__account_holder={"id": "ah_42", "name": "Éloïse Tremblay", "email": "e@example.com"},
    )
    opened(page, token, org, lang)
    line = row(page, payment_id)
    expect(line).to_be_visible()
    expect(page.locator(f"{CONSOLE} h1")).to_have_text(title)
    expect(line.locator("td.amount")).to_have_text(
        re.compile(re.escape(amount).replace(r"\ ", r"\s"))
    )
    expect(line).to_contain_text(kind)
    holder = line.get_by_role("link", name="Éloïse Tremblay")
    expect(holder).to_have_attribute(
        "href", sent["client_url_template"].replace("{account_holder_id}", "ah_42")
    )
    screenshot(page, f"table-{lang}")
    no_serious_violations(page)


def test_search_and_filters_are_kept_in_the_url_and_reopen_the_same_view(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org)
    wanted = failure(post_webhook, org)
    other = failure(post_webhook, org)
    opened(page, token, org)
    expect(row(page, other)).to_be_visible()
    page.locator(f"{CONSOLE} input[name=q]").fill(wanted)
    page.locator(f"{CONSOLE} form.filters button[type=submit]").click()
    expect(row(page, other)).to_have_count(0)
    expect(row(page, wanted)).to_be_visible()
    assert f"q={wanted}" in page.url
    no_serious_violations(page)  # the filtered table, its search filled in
    # The same URL, opened again, is the same view.
    query = page.url.split("?", 1)[1]
    opened(page, token, org, query=query)
    expect(row(page, wanted)).to_be_visible()
    expect(row(page, other)).to_have_count(0)
    # The digest's link to one account holder.
    opened(page, token, org, query="account_holder_id=nobody")
    expect(page.locator(f"{CONSOLE} .empty").first).to_be_visible()
    no_serious_violations(page)  # the empty table, filtered


def test_pages_follow_the_cursor(page: Page, token: MintToken, post_webhook: PostWebhook) -> None:
    org = new_org()
    organization(post_webhook, org)
    for _ in range(27):
        failure(post_webhook, org)
    opened(page, token, org, "en-CA")
    expect(page.locator(f"{CONSOLE} tbody tr")).to_have_count(25)
    page.get_by_role("button", name="Next page").click()
    expect(page.locator(f"{CONSOLE} tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Previous page").click()
    expect(page.locator(f"{CONSOLE} tbody tr")).to_have_count(25)


def test_an_empty_table_says_so(page: Page, token: MintToken) -> None:
    opened(page, token, new_org(), "en-CA")
    expect(page.locator(f"{CONSOLE} #table .empty")).to_have_text("No failed transactions.")
    no_serious_violations(page)


# ---------------------------------------------------------------------------- the actions


def test_a_slow_retry_says_so_keeps_its_clock_and_can_be_checked_again(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api, queues_idle: WaitForQueues
) -> None:
    """An e-check retry outlasts the polling's patience (95 s, cut to nothing here once the clock
    is checked): the status says it is still pending, the row keeps its clock and offers "Check
    again", the rest of the page still works, a check with the API down says so, and once the
    processor settles it, "Check again" takes the row out."""
    org = new_org()
    organization(post_webhook, org)
    payment_id = failure(post_webhook, org, "tok_echeck_pending", data__method="echeck")
    other = failure(post_webhook, org)
    opened(page, token, org)
    row(page, payment_id).get_by_role("button", name="Nouvelle tentative de transaction").click()
    clock = row(page, payment_id).get_by_role("img", name="Nouvelle tentative en attente")
    expect(clock).to_be_visible()
    screenshot(page, "retry-pending-fr-CA")
    no_serious_violations(page)
    # The patience runs out at the next ask: said in words, the clock stays, "Check again" shows.
    page.evaluate("() => { document.querySelector('payment-action-center').retryPatience = 0; }")
    expect(page.locator(f"{CONSOLE} [role=status]")).to_have_text(
        f"La nouvelle tentative pour {payment_id} est toujours en attente : le processeur n'a pas"
        " encore répondu. Vérifiez à nouveau plus tard.",
        timeout=15_000,
    )
    expect(clock).to_be_visible()
    expect(row(page, payment_id).get_by_role("button", name="Vérifier à nouveau")).to_be_visible()
    no_serious_violations(page)
    # The rest of the page still works: another row's action, its dialog in French.
    row(page, other).get_by_role("button", name="Retirer cette transaction").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    no_serious_violations(page)
    dialog.get_by_role("button", name="Retirer", exact=True).click()
    expect(row(page, other)).to_have_count(0)
    expect(page.locator(f"{CONSOLE} [role=status]")).to_contain_text("a été retirée")
    # The same pending row in English.
    switch_language(page, "en-CA", "Failed transactions")
    expect(row(page, payment_id).get_by_role("img", name="Retry pending")).to_be_visible()
    check_again = row(page, payment_id).get_by_role("button", name="Check again")
    expect(check_again).to_be_visible()
    no_serious_violations(page)
    # Checking again with the API down says so, and still offers to check again.
    page.route("**/transactions/*", lambda route: route.abort())
    check_again.click()
    expect(page.locator(f"{CONSOLE} [role=alert]")).to_have_text(
        "The Action Center cannot be reached. Try again in a moment."
    )
    expect(check_again).to_be_visible()
    page.unroute("**/transactions/*")
    # The processor settles it at last; checking again finds it.
    queues_idle()
    jwt = token(org_id=org)
    assert api.settle(entry_id_of(api, jwt, payment_id), "succeeded").status_code == 200
    check_again.click()
    expect(row(page, payment_id)).to_have_count(0, timeout=15_000)
    expect(page.locator(f"{CONSOLE} [role=status]")).to_contain_text("went through")


def test_a_retry_to_success_removes_the_row(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org)
    payment_id = failure(post_webhook, org, "tok_success")
    opened(page, token, org, "en-CA")
    row(page, payment_id).get_by_role("button", name="Retry transaction").click()
    expect(row(page, payment_id)).to_have_count(0, timeout=30_000)
    expect(page.locator(f"{CONSOLE} [role=status]")).to_contain_text("went through")


def test_a_retry_that_fails_again_comes_back_with_attempt_two(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org)
    payment_id = failure(post_webhook, org, "tok_card_declined")
    opened(page, token, org, "en-CA")
    row(page, payment_id).get_by_role("button", name="Retry transaction").click()
    expect(row(page, payment_id).locator("td.attempts")).to_have_text("2", timeout=30_000)
    expect(row(page, payment_id).get_by_role("button", name="Retry transaction")).to_be_visible()
    expect(page.locator(f"{CONSOLE} [role=status]")).to_contain_text("attempt 2")


def test_dismiss_with_a_reason_removes_the_row_and_the_history_keeps_who_and_why(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api
) -> None:
    org = new_org()
    organization(post_webhook, org)
    payment_id = failure(post_webhook, org)
    opened(page, token, org, "en-CA")
    row(page, payment_id).get_by_role("button", name="Dismiss this transaction").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    no_serious_violations(page)
    dialog.get_by_label("Reason (optional)").fill("paid by cheque")
    dialog.get_by_role("button", name="Dismiss", exact=True).click()
    expect(row(page, payment_id)).to_have_count(0)
    jwt = token(org_id=org)
    entry_id = api.get("/transactions", jwt, params={"q": payment_id, "status": None}).json()
    assert entry_id["items"] == []  # gone from the table for everyone
    expect(page.locator(f"{CONSOLE} [role=status]")).to_contain_text("was dismissed")


def test_the_history_shows_who_did_what(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org)
    payment_id = failure(post_webhook, org, "tok_card_declined")
    opened(page, token, org, "en-CA")
    row(page, payment_id).get_by_role("button", name="Retry transaction").click()
    expect(row(page, payment_id).locator("td.attempts")).to_have_text("2", timeout=30_000)
    row(page, payment_id).get_by_role("button", name=f"Details {payment_id}").click()
    history = page.locator(f"{CONSOLE} section.detail")
    expect(history).to_contain_text("Failure received")
    expect(history).to_contain_text("Retry requested")
    expect(history).to_contain_text("Retry failed")
    expect(history).to_contain_text("admin@")
    no_serious_violations(page)


def test_change_payment_method_opens_the_upcoming_payments_page(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    sent = organization(post_webhook, org)
    payment_id = failure(
        post_webhook,
        org,
        data__account_holder={"id": "ah_7", "name": "Zoé Lévesque", "email": "z@example.com"},
    )
    opened(page, token, org, "en-CA")
    # The platform is not reachable from here: its page is answered by the test.
    page.context.route("https://plateforme.example/**", lambda route: route.fulfill(body="ok"))
    with page.expect_popup() as popup:
        row(page, payment_id).get_by_role("button", name="Change payment method").click()
    expected = sent["upcoming_payments_url_template"].replace("{account_holder_id}", "ah_7")
    assert popup.value.url == expected


def test_a_refund_has_no_payment_method_to_change_and_its_history_says_why(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api
) -> None:
    org = new_org()
    organization(post_webhook, org)
    body = factories.refund_failed(data__organization_id=org)
    assert post_webhook("payments", body).json()["status"] == "accepted"
    payment_id = body["data"]["payment_id"]
    opened(page, token, org, "en-CA")
    line = row(page, payment_id)
    expect(line).to_be_visible()
    expect(line.get_by_role("button", name="Change payment method")).to_have_count(0)
    jwt = token(org_id=org)
    entry_id = api.get("/transactions", jwt, params={"q": payment_id}).json()["items"][0]["id"]
    explanation = api.get(f"/transactions/{entry_id}/payment-method-link", jwt).json()["message"]
    line.get_by_role("button", name=f"Details {payment_id}").click()
    expect(page.locator(f"{CONSOLE} section.detail")).to_contain_text(explanation)
    no_serious_violations(page)


# --------------------------------------------------------------- expiring cards, preferences


def test_the_expiring_cards_section_lists_a_linked_card(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    sent = organization(post_webhook, org)
    month = next_month(datetime.now(UTC), sent["time_zone"])  # what the section lists
    card = factories.card_upserted(
        data__organization_id=org,
        data__exp_year=int(month[:4]),
        data__exp_month=int(month[5:]),
    )
    assert post_webhook("billing", card).json()["status"] == "accepted"
    schedule = factories.scheduled_payment_upserted(
        data__organization_id=org,
        data__payment_method={"token": "tok_success", "card_id": card["data"]["card_id"]},
    )
    assert post_webhook("billing", schedule).json()["status"] == "accepted"
    opened(page, token, org, "en-CA")
    section = page.locator(f"{CONSOLE} #cards")
    expect(section.get_by_role("heading")).to_have_text(
        "Credit cards about to expire with scheduled payments"
    )
    expect(section.locator(f"tr[data-card='{card['data']['card_id']}']")).to_be_visible()
    screenshot(page, "expiring-cards-en-CA")
    no_serious_violations(page)
    switch_language(page, "fr-CA", "Transactions échouées")
    expect(section.get_by_role("heading")).to_have_text(
        "Cartes de crédit en voie d'expirer avec des paiements prévus"
    )
    expect(section.locator(f"tr[data-card='{card['data']['card_id']}']")).to_be_visible()
    no_serious_violations(page)


def test_the_digest_preference_is_saved(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api
) -> None:
    org = new_org()
    organization(post_webhook, org)
    opened(page, token, org, "en-CA")
    section = page.locator(f"{CONSOLE} #preferences")
    section.get_by_label("Receive the daily digest of failed transactions").check()
    section.get_by_label("Email language").select_option("en-CA")
    section.get_by_role("button", name="Save").click()
    expect(page.locator(f"{CONSOLE} [role=status]")).to_have_text("Your preferences are saved.")
    no_serious_violations(page)
    saved = api.get("/me/notification-preferences", token(org_id=org)).json()
    assert saved == {"failed_transactions_digest": True, "locale": "en-CA"}


def test_the_language_switch_changes_every_word_and_the_url(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org)
    payment_id = failure(post_webhook, org)
    opened(page, token, org, "fr-CA")
    expect(page.locator(f"{CONSOLE} h1")).to_have_text("Transactions échouées")
    # The history, in French.
    row(page, payment_id).get_by_role("button", name=f"Détails {payment_id}").click()
    expect(page.locator(f"{CONSOLE} section.detail")).to_contain_text("Échec reçu")
    no_serious_violations(page)
    page.locator(f"{CONSOLE} select[name=language]").select_option("en-CA")
    expect(page.locator(f"{CONSOLE} h1")).to_have_text("Failed transactions")
    expect(page.locator(f"{CONSOLE} th").first).to_have_text("Account holder")
    assert "lang=en-CA" in page.url


# ---------------------------------------------------------------------------- faults


def test_the_api_down_says_so_and_the_page_still_works(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org)
    payment_id = failure(post_webhook, org)
    opened(page, token, org, "en-CA")
    expect(row(page, payment_id)).to_be_visible()
    page.route("**/transactions/*/retry", lambda route: route.abort())
    row(page, payment_id).get_by_role("button", name="Retry transaction").click()
    expect(page.locator(f"{CONSOLE} [role=alert]")).to_have_text(
        "The Action Center cannot be reached. Try again in a moment."
    )
    no_serious_violations(page)
    page.unroute("**/transactions/*/retry")
    # The button is usable again.
    row(page, payment_id).get_by_role("button", name="Retry transaction").click()
    expect(page.locator(f"{CONSOLE} [role=alert]")).to_be_empty()


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("fr-CA", "Votre session a expiré. Reconnectez-vous pour continuer."),
        ("en-CA", "Your session has expired. Sign in again to continue."),
    ],
)
def test_an_expired_token_asks_to_sign_in_again(page: Page, lang: str, message: str) -> None:
    open_console(page, lang)
    page.evaluate(
        """() => document.querySelector('payment-action-center').addEventListener(
            'pac-unauthorized', () => { window.unauthorizedHeard = true; })"""
    )
    sign_in(page, "not-a-valid-token")
    expect(page.locator(f"{CONSOLE} [role=alert]")).to_have_text(message)
    assert page.evaluate("() => window.unauthorizedHeard") is True
    no_serious_violations(page)  # the error shown, nothing else loaded


def test_someone_else_acting_first_shows_the_api_message_and_refreshes_the_row(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api
) -> None:
    org = new_org()
    organization(post_webhook, org)
    payment_id = failure(post_webhook, org)
    opened(page, token, org, "en-CA")
    expect(row(page, payment_id)).to_be_visible()
    jwt = token(org_id=org)
    entry_id = api.get("/transactions", jwt, params={"q": payment_id}).json()["items"][0]["id"]
    assert api.post(f"/transactions/{entry_id}/dismiss", jwt, json={}).status_code == 200
    row(page, payment_id).get_by_role("button", name="Retry transaction").click()
    expect(page.locator(f"{CONSOLE} [role=alert]")).not_to_be_empty()
    expect(row(page, payment_id)).to_have_count(0)
