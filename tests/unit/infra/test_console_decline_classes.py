"""The console shows every `decline_class` the API can send (domain/declines.py) as a short label
in both languages, and names every card network a failure can carry (domain/entries.py):
console/payment-action-center.js lists the values it knows, console/messages.js says each. Read
with Node, as the browser reads the module."""

import json
import re

from payment_action_center.domain.declines import DeclineClass
from payment_action_center.domain.entries import Network
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
