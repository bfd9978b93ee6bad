"""The console with the keyboard alone (console/payment-action-center.js), in headless Chromium
against the local stack: Tab, Shift+Tab, Enter, Space, Escape and the arrows, never a click.

The issue asks for a console "keyboard-usable, with roles and labels": every control is reached
by Tab in the page's order, shows where the focus is, and works from the keyboard; the dismiss
dialog and the history take the focus and give it back to what opened them; a row redrawn or
gone (a retry's clock, "Check again", a dismissal) never sends the focus back to the page.

Each test works in an organization of its own, on one page (tests/e2e/console/test_console.py)."""

from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import Api, MintToken, PostWebhook, WaitForQueues
from tests.e2e.console.test_console import (
    CONSOLE,
    entry_id_of,
    failure,
    new_org,
    opened,
    organization,
    row,
)

# Enough Tab presses to cross the whole console (two rows, the filters, the preferences).
TAB_LIMIT = 60

# The control that has the focus inside the component's shadow root, described: its place among
# the component's tabbable controls in document order (`index`, -1 if not one of them, null when
# the focus is not in the component), its name, and whether the focus shows. A date field is
# several Tab stops (its day, month, year, then its calendar button, which the browser draws with
# its own ring: `picker`).
FOCUSED = """() => {
    const root = document.querySelector('payment-action-center').shadowRoot;
    const active = root.activeElement;
    if (!active) return {index: null, outside: document.activeElement?.tagName ?? null};
    const tabbable = [...root.querySelectorAll(
        'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])'
    )].filter((element) => !element.disabled && element.tabIndex >= 0);
    const style = getComputedStyle(active);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== 'none';
    const picker = active.matches('input[type=date]') && !active.matches(':focus');
    return {
        index: tabbable.indexOf(active),
        count: tabbable.length,
        name: active.getAttribute('aria-label') || active.name || active.textContent.trim(),
        entry: active.closest('tr[data-entry]')?.dataset.entry ?? null,
        picker,
        shown: picker || (active.matches(':focus-visible') && (outline || shadow)),
    };
}"""


def focused(page: Page) -> dict[str, Any]:
    described: dict[str, Any] = page.evaluate(FOCUSED)
    return described


def has_focus(target: Locator) -> bool:
    return bool(target.evaluate("element => element.getRootNode().activeElement === element"))


def tab_to(page: Page, target: Locator, limit: int = TAB_LIMIT, key: str = "Tab") -> None:
    """Press Tab (or `key`) until `target` has the focus; fails after `limit` presses."""
    expect(target).to_be_visible()
    for _ in range(limit):
        page.keyboard.press(key)
        if has_focus(target):
            return
    raise AssertionError(f"{limit} presses of {key} never reached {target}: {focused(page)}")


def status(page: Page) -> Locator:
    return page.locator(f"{CONSOLE} [role=status]")


def payment_ids_in_order(page: Page) -> list[str]:
    return page.locator(f"{CONSOLE} tbody tr td button.link").all_inner_texts()


def test_the_search_filters_the_table_from_the_keyboard(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org)
    wanted = failure(post_webhook, org)
    other = failure(post_webhook, org)
    opened(page, token, org, "en-CA")
    expect(row(page, other)).to_be_visible()
    search = page.get_by_role("searchbox", name="Search an account holder or a payment ID")
    tab_to(page, search)
    page.keyboard.type(wanted)
    page.keyboard.press("Enter")
    expect(row(page, other)).to_have_count(0)
    expect(row(page, wanted)).to_be_visible()
    assert f"q={wanted}" in page.url
    expect(search).to_be_focused()  # the table reloaded under it, the focus stayed
    # "Clear filters" draws the filters again: the focus stays on it.
    clear = page.get_by_role("button", name="Clear filters")
    tab_to(page, clear, limit=20)
    page.keyboard.press("Enter")
    expect(row(page, other)).to_be_visible()
    assert "q=" not in page.url
    expect(clear).to_be_focused()
    expect(search).to_have_value("")


def test_the_dismiss_dialog_takes_the_focus_and_gives_it_back(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    """Enter on Dismiss opens the dialog on its reason field; Escape closes it back onto that
    Dismiss; confirmed, the row leaves, the status says so and the focus lands on the same
    action of the row now in its place."""
    org = new_org()
    organization(post_webhook, org)
    failure(post_webhook, org)
    failure(post_webhook, org)
    opened(page, token, org, "en-CA")
    expect(page.locator(f"{CONSOLE} tbody tr")).to_have_count(2)
    first, second = payment_ids_in_order(page)
    dismiss = row(page, first).get_by_role("button", name="Dismiss this transaction")
    tab_to(page, dismiss)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=f"Dismiss transaction {first}")
    expect(dialog).to_be_visible()
    reason = dialog.get_by_label("Reason (optional)")
    expect(reason).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(dismiss).to_be_focused()
    expect(row(page, first)).to_be_visible()  # Escape dismissed nothing
    # Again, with a reason, confirmed from the keyboard.
    page.keyboard.press("Enter")
    expect(reason).to_be_focused()
    page.keyboard.type("paid by cheque")
    confirm = dialog.get_by_role("button", name="Dismiss", exact=True)
    tab_to(page, confirm, limit=3)  # past Cancel; the modal dialog keeps the focus inside
    page.keyboard.press("Enter")
    expect(row(page, first)).to_have_count(0)
    expect(status(page)).to_have_text(f"Transaction {first} was dismissed.")
    next_dismiss = row(page, second).get_by_role("button", name="Dismiss this transaction")
    expect(next_dismiss).to_be_focused()
    # The last row dismissed, the focus goes to the table's heading.
    page.keyboard.press("Space")
    dialog = page.get_by_role("dialog", name=f"Dismiss transaction {second}")
    expect(dialog.get_by_label("Reason (optional)")).to_be_focused()
    tab_to(page, dialog.get_by_role("button", name="Dismiss", exact=True), limit=3)
    page.keyboard.press("Space")
    expect(page.locator(f"{CONSOLE} #table .empty")).to_have_text("No failed transactions.")
    expect(page.locator(f"{CONSOLE} h1")).to_be_focused()
    expect(status(page)).to_have_text(f"Transaction {second} was dismissed.")


def test_retry_and_check_again_keep_the_focus_in_their_row(
    page: Page, token: MintToken, post_webhook: PostWebhook, api: Api, queues_idle: WaitForQueues
) -> None:
    """Space on Retry: the row's clock takes the focus ("Retry pending"). The patience run out
    (`retryPatience = 0`), the row is redrawn with "Check again" and the focus stays; pressed, it
    keeps the focus through the check and the redraw. Settled at last, the row leaves and the
    focus goes to the row now in its place."""
    org = new_org()
    organization(post_webhook, org)
    other = failure(post_webhook, org, "tok_card_declined")
    payment_id = failure(post_webhook, org, "tok_echeck_pending", data__method="echeck")
    opened(page, token, org, "en-CA")
    expect(row(page, other)).to_be_visible()
    retry = row(page, payment_id).get_by_role("button", name="Retry transaction")
    tab_to(page, retry)
    page.keyboard.press("Space")
    clock = row(page, payment_id).get_by_role("img", name="Retry pending")
    expect(clock).to_be_visible()
    expect(clock).to_be_focused()
    expect(status(page)).to_have_text(f"Retry sent for {payment_id}.")
    # The patience runs out at the next ask: the row is redrawn, the focus stays on its clock.
    page.evaluate("() => { document.querySelector('payment-action-center').retryPatience = 0; }")
    check_again = row(page, payment_id).get_by_role("button", name="Check again")
    expect(check_again).to_be_visible(timeout=15_000)
    expect(clock).to_be_focused()
    tab_to(page, check_again, limit=1)
    still_pending = (
        f"The retry of {payment_id} is still pending: the processor has not answered yet."
        " Check again later."
    )
    expect(status(page)).to_have_text(still_pending)
    page.keyboard.press("Enter")
    expect(check_again).to_be_enabled()  # asked again (aria-disabled meanwhile), redrawn again
    expect(check_again).to_be_focused()
    expect(status(page)).to_have_text(still_pending)
    page.keyboard.press("Space")
    expect(check_again).to_be_enabled()
    expect(check_again).to_be_focused()
    # The processor settles it: "Check again" takes the row out, the focus goes to the next row.
    queues_idle()
    entry_id = entry_id_of(api, token(org_id=org), payment_id)
    assert api.settle(entry_id, "succeeded").status_code == 200
    page.keyboard.press("Enter")
    expect(row(page, payment_id)).to_have_count(0, timeout=15_000)
    expect(status(page)).to_contain_text("went through")
    assert focused(page)["entry"] == row(page, other).get_attribute("data-entry")


def test_the_history_opens_and_closes_from_the_keyboard(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    organization(post_webhook, org)
    payment_id = failure(post_webhook, org)
    opened(page, token, org, "en-CA")
    details = row(page, payment_id).get_by_role("button", name=f"Details {payment_id}")
    tab_to(page, details)
    page.keyboard.press("Enter")
    history = page.get_by_role("region", name=f"History of transaction {payment_id}")
    expect(history).to_be_focused()
    expect(history).to_contain_text("Failure received")
    page.keyboard.press("Escape")
    expect(history).to_have_count(0)
    expect(details).to_be_focused()
    # Again, closed with its Close button.
    page.keyboard.press("Space")
    expect(history).to_be_focused()
    tab_to(page, history.get_by_role("button", name="Close"), limit=1)
    page.keyboard.press("Enter")
    expect(history).to_have_count(0)
    expect(details).to_be_focused()


def test_tab_reaches_every_control_in_order_and_shows_the_focus(
    page: Page, token: MintToken, post_webhook: PostWebhook
) -> None:
    """From the language select (switched with the arrow keys: the focus stays on it) to the
    automatic retry policy's Save (the last section), Tab visits every control of the component
    once, in document order (each row's actions in turn), each showing a focus ring, and one more
    Tab leaves the component; Shift+Tab walks back."""
    org = new_org()
    organization(post_webhook, org)
    failure(post_webhook, org)
    failure(post_webhook, org, "tok_card_declined")
    opened(page, token, org, "fr-CA")
    expect(page.locator(f"{CONSOLE} tbody tr")).to_have_count(2)
    language = page.locator(f"{CONSOLE} select[name=language]")
    tab_to(page, language, limit=5)
    page.keyboard.press("ArrowDown")  # Français -> English, at once (a select's change)
    expect(page.locator(f"{CONSOLE} h1")).to_have_text("Failed transactions")
    assert "lang=en-CA" in page.url
    expect(language).to_be_focused()
    save = page.locator(f"{CONSOLE} #retry-policy").get_by_role("button", name="Save")
    expect(save).to_be_visible()
    # Every section drawn (each loads on its own): the count of controls is then final.
    for section in ("preferences", "retry-policy"):
        expect(page.locator(f"{CONSOLE} #{section} button")).to_have_count(1)
    start = focused(page)
    assert start["index"] == 0, start
    stops = [start]
    while not has_focus(save):
        assert len(stops) < TAB_LIMIT, f"Save never reached: {stops[-3:]}"
        page.keyboard.press("Tab")
        stops.append(focused(page))
        assert stops[-1]["index"] is not None, f"the focus left the component: {stops[-3:]}"
    unseen = [stop for stop in stops if not stop["shown"]]
    assert unseen == [], "no visible focus indicator"
    # Every tabbable control, once, in document order (a date field's stops are one control).
    visited = [stop["index"] for stop in stops]
    distinct = [index for n, index in enumerate(visited) if n == 0 or visited[n - 1] != index]
    assert distinct == list(range(start["count"])), stops
    # Each row's actions, in the row's order, one row after the other.
    for payment_id in payment_ids_in_order(page):
        entry = row(page, payment_id).get_attribute("data-entry")
        in_row = [stop["name"] for stop in stops if stop["entry"] == entry]
        expected = [f"Details {payment_id}", "Retry transaction", "Dismiss this transaction"]
        expected.append("Change payment method")
        assert in_row[-4:] == expected, in_row
    # One more Tab leaves the component: no trap. Shift+Tab comes back to Save, then walks back.
    page.keyboard.press("Tab")
    assert focused(page)["index"] is None
    page.keyboard.press("Shift+Tab")
    expect(save).to_be_focused()
    tab_to(page, language, limit=TAB_LIMIT, key="Shift+Tab")
