"""The console shows every `decline_class` the API can send (domain/declines.py) as a short label
in both languages, and names every card network a failure can carry (domain/entries.py):
console/payment-action-center.js lists the values it knows, console/messages.js says each. Read
with Node, as the browser reads the module."""

import json
import re

from payment_action_center.adapters.http.views import RetryRefusalView, TransactionView
from payment_action_center.domain.declines import DeclineClass
from payment_action_center.domain.entries import Network
from payment_action_center.domain.errors import RetryNotAllowed
from tests.shared.lambdas import ROOT
from tests.shared.node import node_json

SOURCE = ROOT / "console" / "payment-action-center.js"

# The labels the product asked for, word for word.
LABELS = {
    "en-CA": {
        DeclineClass.RETRY_LATER: "May be retried later",
        DeclineClass.FIX_DETAILS: "Details must be corrected first",
        DeclineClass.NEW_PAYMENT_METHOD: "Needs another payment method",
        DeclineClass.NEVER_RETRY: "Must not be retried",
    },
    "fr-CA": {
        DeclineClass.RETRY_LATER: "Peut être réessayé plus tard",
        DeclineClass.FIX_DETAILS: "Les coordonnées doivent d'abord être corrigées",
        DeclineClass.NEW_PAYMENT_METHOD: "Requiert un autre mode de paiement",
        DeclineClass.NEVER_RETRY: "Ne doit pas être réessayé",
    },
}


def said(keys: list[str], values: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """Each key's message, by locale, as `t` returns it (with `values` filled in)."""
    script = (
        "import { LOCALES, t } from './console/messages.js';"
        f"const keys = {json.dumps(keys)}; const values = {json.dumps(values or {})};"
        "console.log(JSON.stringify(Object.fromEntries(LOCALES.map((l) =>"
        " [l, Object.fromEntries(keys.map((k) => [k, t(l, k, values)]))]))));"
    )
    found: dict[str, dict[str, str]] = node_json(script)
    return found


def listed(name: str) -> list[str]:
    source = SOURCE.read_text(encoding="utf-8")
    found = re.search(rf"const {name} = \[([^\]]*)\];", source)
    assert found, f"console/payment-action-center.js no longer lists {name}"
    return re.findall(r'"([a-z_]+)"', found.group(1))


def test_the_component_knows_every_decline_class_of_the_api() -> None:
    assert listed("DECLINE_CLASSES") == [c.value for c in DeclineClass]


def test_each_decline_class_is_its_label_in_each_language() -> None:
    messages = said([f"decline.{c}" for c in DeclineClass])
    assert set(messages) == {"fr-CA", "en-CA"}
    for locale, labels in LABELS.items():
        # `t` answers with the key itself when no catalogue has it.
        assert messages[locale] == {f"decline.{c}": label for c, label in labels.items()}
        assert len(set(messages[locale].values())) == len(DeclineClass)


def test_the_component_names_every_network_of_the_api() -> None:
    assert listed("NETWORKS") == [n.value for n in Network]
    messages = said([f"network.{n}" for n in Network])
    for locale in ("fr-CA", "en-CA"):
        for network in Network:
            assert messages[locale][f"network.{network}"] != f"network.{network}", network


def test_the_codes_read_as_the_network_or_the_bank_writes_them() -> None:
    def one(key: str, **values: str) -> dict[str, str]:
        return {locale: messages[key] for locale, messages in said([key], values).items()}

    assert one("decline.network_code", network="Visa", code="05") == {
        "en-CA": "Visa 05",
        "fr-CA": "Visa 05",
    }
    assert one("decline.advice_code", code="03")["en-CA"] == "Mastercard advice 03"
    assert one("decline.ach_code", code="R01") == {"en-CA": "ACH R01", "fr-CA": "ACH R01"}
    # The French name of a pre-authorized debit (PAD) is DPA, débit préautorisé.
    assert one("decline.pad_code", code="901") == {"en-CA": "PAD 901", "fr-CA": "DPA 901"}


def test_a_refused_retry_reads_as_asked_in_each_language() -> None:
    """Under a row's actions, the API's `retry_not_allowed`: its reason (English, as the API
    gives it) and from when a retry is allowed; and what the alert says of a 409
    `retry_not_allowed` that came without a message."""
    reason = "Visa category 1: the issuer will never approve this card"
    refused = said(["retry.refused"], {"reason": reason})
    assert refused == {
        "en-CA": {"retry.refused": f"Retry not allowed: {reason}"},
        "fr-CA": {"retry.refused": f"Nouvel essai non permis : {reason}"},
    }
    allowed = said(["retry.allowed_from"], {"date": "2 déc. 2026"})
    assert allowed == {
        "en-CA": {"retry.allowed_from": "Retry allowed from 2 déc. 2026"},
        "fr-CA": {"retry.allowed_from": "Nouvel essai permis à partir du 2 déc. 2026"},
    }
    fallback = said(["retry.not_allowed"])
    for locale in ("fr-CA", "en-CA"):
        assert fallback[locale]["retry.not_allowed"] != "retry.not_allowed", locale
    assert fallback["fr-CA"] != fallback["en-CA"]


def test_the_component_reads_the_refusal_and_its_409() -> None:
    """The entry's field and the retry's 409 code, spelled as the API spells them
    (adapters/http/views.py, domain/errors.py)."""
    source = SOURCE.read_text(encoding="utf-8")
    assert "retry_not_allowed" in TransactionView.model_fields
    assert set(RetryRefusalView.model_fields) == {"reason", "allowed_at"}
    assert "entry.retry_not_allowed" in source
    assert "refusal.reason" in source and "refusal.allowed_at" in source
    assert f'error.code === "{RetryNotAllowed.code}"' in source
    for key in ("retry.refused", "retry.allowed_from", "retry.not_allowed"):
        assert f'#t("{key}")' in source, key
