"""The console's message catalogue (console/messages.js): both languages say everything, and every
key the component asks for exists. Read with Node, as the browser reads the module."""

import re

from tests.shared.lambdas import ROOT
from tests.shared.node import node_json

CONSOLE = ROOT / "console"


def catalogue() -> dict[str, list[str]]:
    script = (
        "import { LOCALES, keys } from './console/messages.js';"
        "console.log(JSON.stringify(Object.fromEntries(LOCALES.map((l) => [l, keys(l)]))));"
    )
    found: dict[str, list[str]] = node_json(script)
    return found


def test_both_languages_have_the_same_keys() -> None:
    keys = catalogue()
    assert set(keys) == {"fr-CA", "en-CA"}
    assert sorted(keys["fr-CA"]) == sorted(keys["en-CA"])


def test_every_literal_key_the_component_asks_for_exists() -> None:
    source = (CONSOLE / "payment-action-center.js").read_text(encoding="utf-8")
    asked = set(re.findall(r"#t\(\s*\"([a-z_.]+)\"", source))
    assert asked, "the component asks for no key: the pattern no longer matches its calls"
    assert asked - set(catalogue()["en-CA"]) == set()


def test_every_key_the_host_page_asks_for_exists() -> None:
    """console/host.js asks literally, and `host.error.<code>` for each SignInError code of
    console/oidc.js and for its own failures."""
    host = (CONSOLE / "host.js").read_text(encoding="utf-8")
    oidc = (CONSOLE / "oidc.js").read_text(encoding="utf-8")
    asked = set(re.findall(r"\"(host\.[a-z_.]+)\"", host))
    codes = set(re.findall(r"new SignInError\(\"([a-z_]+)\"", oidc))
    assert asked and codes == {"provider", "refused", "state", "token", "claims"}

    assert asked - set(catalogue()["en-CA"]) == set()
    assert {f"host.error.{code}" for code in codes} - set(catalogue()["en-CA"]) == set()
