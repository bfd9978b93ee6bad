"""The console shows every `recommended_action` the API can send (domain/declines.py), in both
languages: console/payment-action-center.js lists the values it knows, console/messages.js says
each. Read with Node, as the browser reads the module."""

import json
import re

from payment_action_center.domain.declines import RecommendedAction
from tests.shared.lambdas import ROOT
from tests.shared.node import node_json


def messages() -> dict[str, dict[str, str]]:
    """Every `recommended.<value>` message, by locale, as `t` returns it."""
    values = json.dumps([action.value for action in RecommendedAction])
    script = (
        "import { LOCALES, t } from './console/messages.js';"
        f"const values = {values};"
        "console.log(JSON.stringify(Object.fromEntries(LOCALES.map((l) =>"
        " [l, Object.fromEntries(values.map((v) => [v, t(l, `recommended.${v}`)]))]))));"
    )
    found: dict[str, dict[str, str]] = node_json(script)
    return found


def test_the_component_knows_every_value_of_the_api() -> None:
    source = (ROOT / "console" / "payment-action-center.js").read_text(encoding="utf-8")
    listed = re.search(r"const RECOMMENDATIONS = \[([^\]]*)\];", source)
    assert listed, "console/payment-action-center.js no longer lists RECOMMENDATIONS"
    assert re.findall(r'"([a-z_]+)"', listed.group(1)) == [a.value for a in RecommendedAction]


def test_each_value_is_a_sentence_in_each_language() -> None:
    said = messages()
    assert set(said) == {"fr-CA", "en-CA"}
    for action in RecommendedAction:
        # `t` answers with the key itself when no catalogue has it.
        assert said["en-CA"][action].startswith("Recommended: "), action
        assert said["fr-CA"][action].startswith("Recommandé : "), action
    assert len(set(said["en-CA"].values())) == len(RecommendedAction)
    assert len(set(said["fr-CA"].values())) == len(RecommendedAction)
