"""Regenerate docs/digest-fr-CA.png and docs/digest-en-CA.png: the daily digest's HTML part as a
mail client shows it, for the README (`python -m tools.digest_screenshots`).

Needs Chromium (`apt-get install -y chromium`); not run by the tests.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PLATFORM = "https://plateforme.example/centre-demo"
WINDOW = "900,1100"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
ORGANIZATION_NAMES = {"fr-CA": "Centre récréatif Démo", "en-CA": "Demo Recreation Centre"}
# holder id, name, amount (cents), type, payment id, failed at (UTC), recommended action
FAILURES = (
    (
        "ah_1001",
        "Éloïse Tremblay",
        12500,
        "installment",
        "pay_8F3K2Q",
        "2026-11-25T10:42:00Z",
        "retry_later",
    ),
    (
        "ah_1002",
        "François Bélanger",
        4999,
        "subscription",
        "pay_7D1M9X",
        "2026-11-25T06:15:00Z",
        "change_payment_method",
    ),
    (
        "ah_1003",
        "Noémie Côté",
        123456,
        "echeck_payment",
        "pay_6B8N4R",
        "2026-11-25T01:03:00Z",
        "wait_for_payday",
    ),
    (
        "ah_1004",
        "Léa O'Neil",
        7500,
        "credit_card_refund",
        "pay_5C2P7T",
        "2026-11-24T22:37:00Z",
        "fund_merchant_account",
    ),
    (
        "ah_1005",
        "Zoé Gagnon-Lévesque",
        31000,
        "installment",
        "pay_4A9L1V",
        "2026-11-24T18:20:00Z",
        "retry_later",
    ),
    (
        "ah_1006",
        "Hélène Bouchard",
        2250,
        "subscription",
        "pay_3E6H8W",
        "2026-11-24T14:05:00Z",
        "review",
    ),
)


def render(locale: str) -> str:
    sys.path.insert(0, str(ROOT / "layers" / "core"))
    from payment_action_center.adapters.emails.digest import render_digest
    from payment_action_center.domain.billing import Organization
    from payment_action_center.domain.declines import RecommendedAction
    from payment_action_center.domain.entries import EntryType
    from payment_action_center.domain.timestamps import canonical
    from payment_action_center.ports import DigestLine

    organization = Organization(
        id="org_demo",
        name=ORGANIZATION_NAMES[locale],
        billing_contact_email="facturation@centre-demo.example",
        locale=locale,
        time_zone="America/Toronto",
        console_url=f"{PLATFORM}/centre-actions-paiement",
        upcoming_payments_url_template=f"{PLATFORM}/clients/{{account_holder_id}}/a-venir",
        client_url_template=f"{PLATFORM}/clients/{{account_holder_id}}",
        card_update_url_template=f"{PLATFORM}/clients/{{account_holder_id}}/cartes",
        state_at=canonical("2026-11-01T00:00:00Z"),
    )
    lines = [
        DigestLine(
            holder_id=holder_id,
            holder_name=name,
            amount=amount,
            currency="CAD",
            type=EntryType(entry_type),
            payment_id=payment_id,
            failed_at=canonical(failed_at),
            recommended_action=RecommendedAction(action),
        )
        for holder_id, name, amount, entry_type, payment_id, failed_at, action in FAILURES
    ]
    email = render_digest(
        organization=organization,
        locale=locale,
        lines=lines,
        preferences_url=f"{PLATFORM}/compte/preferences-de-messagerie",
        unsubscribe_url="https://pac.example/unsubscribe?token=demo",
        window_end=canonical("2026-11-25T12:00:00Z"),
    )
    return email.html


def screenshot(html: str, target: Path, chromium: str) -> None:
    with tempfile.TemporaryDirectory(prefix="digest-") as folder:
        page = Path(folder) / "digest.html"
        page.write_text(html, encoding="utf-8")
        # The command is Chromium's own path with our flags: no outside input.
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={folder}/profile",
                f"--screenshot={target}",
                f"--window-size={WINDOW}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("Chromium is missing: apt-get install -y chromium")
    DOCS.mkdir(exist_ok=True)
    for locale in ORGANIZATION_NAMES:
        target = DOCS / f"digest-{locale}.png"
        screenshot(render(locale), target, chromium)
        print(target.relative_to(ROOT))


if __name__ == "__main__":
    main()
