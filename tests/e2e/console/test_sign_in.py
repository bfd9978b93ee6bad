"""The standalone host page (console/index.html, console/host.js, console/oidc.js) in headless
Chromium: the OpenID Connect sign-in with PKCE against the local stack's identity provider
(local/oidc.py, which refuses a wrong verifier as real providers do), the console it opens, the
way back to the filtered view, the sign-out, and each sign-in failure a person can meet.

The admin is registered at the provider through POST /_local/token (which registers the claims
it is asked for), then signs in on the provider's own form, as a person would."""

import base64
import hashlib
import json
import uuid
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, Request, expect

from local.stack import LocalStack
from tests.e2e.conftest import MintToken, PostWebhook
from tests.e2e.console.conftest import axe_violations, screenshot
from tests.shared import factories

HOST_PAGE = "/console/index.html"
SESSION_KEY = "payment-action-center.session"
PENDING_KEY = "payment-action-center.sign-in"
# The provider's pages style themselves from a CDN this machine cannot reach.
CDN = "https://cdn.jsdelivr.net/**"
TIMEOUT_MS = 60_000


def admin_of_new_org(post_webhook: PostWebhook, token: MintToken) -> dict[str, str]:
    """An organization with one failed payment, and its billing admin known to the provider."""
    org = f"org_{uuid.uuid4().hex[:10]}"
    upserted = factories.organization_upserted(data__organization_id=org)
    assert post_webhook("billing", upserted).json()["status"] == "accepted"
    failed = factories.payment_failed(data__organization_id=org)
    assert post_webhook("payments", failed).json()["status"] == "accepted"
    admin = {"org_id": org, "sub": f"user_{org}", "email": f"admin@{org}.example"}
    token(org_id=org, sub=admin["sub"], email=admin["email"], groups=["billing_admin"])
    return admin | {"payment_id": str(failed["data"]["payment_id"])}


def sign_in_at_the_provider(page: Page, stack: LocalStack, subject: str) -> None:
    """On the provider's authorization form: type the subject, authorize."""
    page.wait_for_url(f"{stack.identity.issuer}/oauth2/authorize?*", timeout=TIMEOUT_MS)
    page.locator("#subject-input").fill(subject)
    page.get_by_role("button", name="Authorize", exact=True).click()


def wait_for_state(page: Page, state: str) -> None:
    page.wait_for_selector(f"main[data-host-state={state}]", state="attached", timeout=TIMEOUT_MS)


def wait_for_table(page: Page) -> None:
    page.wait_for_function(
        """() => document.querySelector('payment-action-center')
            ?.shadowRoot?.querySelector('[data-ready]') != null""",
        timeout=TIMEOUT_MS,
    )


def b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def test_the_host_page_signs_in_with_pkce_and_comes_back_to_the_filtered_view(
    strict_page: Page, stack: LocalStack, post_webhook: PostWebhook, token: MintToken
) -> None:
    """With the CSP enforced: the page may call the provider (connect-src) and nothing else."""
    page = strict_page
    admin = admin_of_new_org(post_webhook, token)
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))  # noqa: PLW0108 (Playwright wraps it)
    page.route(CDN, lambda route: route.abort())
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    asked = f"{HOST_PAGE}?lang=en-CA&q={admin['payment_id']}"

    page.goto(asked)
    sign_in_at_the_provider(page, stack, admin["sub"])
    wait_for_state(page, "signed-in")
    wait_for_table(page)

    assert page.url == stack.url + asked
    expect(page.locator(".host-user")).to_have_text(f"Signed in: {admin['email']}")
    expect(page.locator("payment-action-center tbody tr")).to_have_count(1)
    expect(page.locator("payment-action-center tbody tr")).to_contain_text(admin["payment_id"])
    authorize_url = f"{stack.identity.issuer}/oauth2/authorize"
    [authorize] = [r for r in sent if r.url.startswith(authorize_url) and r.method == "GET"]
    [exchange] = [r for r in sent if r.url == f"{stack.identity.issuer}/oauth2/token"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize.url).query).items()}
    form = {k: v[0] for k, v in parse_qs(exchange.post_data or "").items()}
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == b64url_sha256(form["code_verifier"])
    assert query["client_id"] == form["client_id"] == "payment-action-center-local"
    assert query["redirect_uri"] == form["redirect_uri"] == stack.url + HOST_PAGE
    assert page.evaluate(f"() => sessionStorage.getItem('{PENDING_KEY}')") is None
    assert violations == []
    screenshot(page, "signed-in-en-CA")

    before = len(sent)
    page.reload()  # the tab's session holds: no second trip to the provider's form
    wait_for_state(page, "signed-in")
    wait_for_table(page)
    assert not [r for r in sent[before:] if "/oauth2/" in r.url]


def test_sign_out_ends_the_session_at_the_provider_and_stays_signed_out(
    page: Page, stack: LocalStack, post_webhook: PostWebhook, token: MintToken
) -> None:
    admin = admin_of_new_org(post_webhook, token)
    page.route(CDN, lambda route: route.abort())
    page.goto(f"{HOST_PAGE}?lang=fr-CA")
    sign_in_at_the_provider(page, stack, admin["sub"])
    wait_for_state(page, "signed-in")
    wait_for_table(page)

    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{stack.identity.issuer}/oauth2/end_session?*", timeout=TIMEOUT_MS)
    page.get_by_role("button", name="End session").click()
    wait_for_state(page, "signed-out")

    expect(page.locator(".host-notice")).to_have_text("Vous êtes déconnecté.")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    expect(page.locator("payment-action-center")).to_have_count(0)
    assert page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None
    assert axe_violations(page) == []

    page.get_by_role("button", name="Se connecter").click()  # and back in, on the provider's form
    sign_in_at_the_provider(page, stack, admin["sub"])
    wait_for_state(page, "signed-in")
    assert urlsplit(page.url).query == ""


def test_an_answer_to_no_sign_in_of_this_tab_is_refused_and_offers_a_new_one(
    page: Page, stack: LocalStack
) -> None:
    page.route(CDN, lambda route: route.abort())
    page.goto(f"{HOST_PAGE}?code=stolen&state=forged&lang=en-CA")
    wait_for_state(page, "signed-out")

    expect(page.locator(".host-notice")).to_have_text(
        "This sign-in answer matches no sign-in under way in this tab. Sign in again."
    )
    assert urlsplit(page.url).query == ""  # the code is gone from the address bar
    assert axe_violations(page) == []
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.identity.issuer}/oauth2/authorize?*", timeout=TIMEOUT_MS)


def test_a_session_the_api_refuses_ends_with_a_way_to_sign_in_again(page: Page) -> None:
    stale = {"token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "expires_at": 4_000_000_000}
    page.add_init_script(
        f"sessionStorage.setItem('{SESSION_KEY}', {json.dumps(json.dumps(stale))});"
    )
    page.goto(f"{HOST_PAGE}?lang=en-CA")
    wait_for_state(page, "signed-out")

    expect(page.locator(".host-notice")).to_have_text("Your session has ended. Sign in again.")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("payment-action-center")).to_have_count(0)


def test_without_its_configuration_the_page_says_so(page: Page) -> None:
    page.route("**/console/config.json", lambda route: route.fulfill(status=404, body="{}"))
    page.goto(f"{HOST_PAGE}?lang=en-CA")
    wait_for_state(page, "failed")

    expect(page.locator(".host-notice")).to_contain_text("The console is not configured")
    expect(page.get_by_role("button", name="Sign in")).to_be_hidden()


def test_a_provider_that_does_not_answer_is_named(page: Page, stack: LocalStack) -> None:
    discovery = f"{stack.identity.issuer}/.well-known/openid-configuration"
    page.route(discovery, lambda route: route.abort())
    page.goto(f"{HOST_PAGE}?lang=fr-CA")
    wait_for_state(page, "failed")

    expect(page.locator(".host-notice")).to_contain_text(
        f"Le fournisseur d’identité {stack.identity.issuer} ne répond pas"  # noqa: RUF001
    )
