"""The scanner's skips (`make scan`, docs/security.md §5): each one is in the template, on its
resource, with its reason in one sentence, and docs/security.md lists exactly the template's."""

import re
from pathlib import Path
from typing import Any

import pytest

from tools.template import load

ROOT = Path(__file__).resolve().parents[3]
SECURITY = ROOT / "docs" / "security.md"
TEMPLATE = load()

type Doc = dict[str, Any]


def skips() -> list[tuple[str, str, str]]:
    """(check, resource, comment) of every `Metadata: checkov: skip` entry of template.yaml."""
    return [
        (entry["id"], name, entry.get("comment", ""))
        for name, resource in TEMPLATE["Resources"].items()
        for entry in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]


def documented_skips() -> set[tuple[str, str]]:
    """(check, resource) of every row of docs/security.md's "Skipped" table."""
    text = SECURITY.read_text()
    section = text[text.index("### Skipped") :]
    section = section[: section.index("\n### ", 1)]
    rows = [line for line in section.splitlines() if re.match(r"\| CKV_", line)]
    assert rows
    found = set()
    for row in rows:
        check, _what, names, _why = (cell.strip() for cell in row.strip("|").split("|"))
        found |= {(check, name) for name in re.findall(r"`(\w+)`", names)}
    return found


def test_the_template_skips_some_checks_and_only_by_checkov_id() -> None:
    assert skips()
    for check, name, _ in skips():
        assert re.fullmatch(r"CKV_AWS_\d+", check), (name, check)
        assert name in TEMPLATE["Resources"], name


@pytest.mark.parametrize(("check", "name", "comment"), skips(), ids=lambda v: str(v)[:40])
def test_each_skip_gives_its_reason_in_one_sentence(check: str, name: str, comment: str) -> None:
    """A sentence: a capital first, one full stop at the end and none inside (a file name such
    as docs/security.md or *.cloudfront.net is not a stop), and short enough to read."""
    assert comment[:1].isupper(), (check, name)
    assert comment.endswith("."), (check, name)
    assert not re.search(r"[.!?]\s", comment[:-1]), (check, name, comment)
    assert 40 <= len(comment) <= 300, (check, name, len(comment))


def test_a_check_is_skipped_at_most_once_per_resource() -> None:
    pairs = [(check, name) for check, name, _ in skips()]
    assert len(pairs) == len(set(pairs))


def test_docs_security_lists_exactly_the_templates_skips() -> None:
    assert documented_skips() == {(check, name) for check, name, _ in skips()}


def test_nothing_is_skipped_outside_the_template() -> None:
    """No checkov config file, no --skip-check in the Makefile: the template is the one place a
    reviewer reads the decisions."""
    assert not list(ROOT.glob(".checkov*"))
    makefile = (ROOT / "Makefile").read_text()
    scan = makefile[makefile.index("$(SCAN)/bin/checkov") :].split("\n\n")[0]
    assert "$(addprefix -f ,$(SCAN_TEMPLATES))" in scan
    for narrowing in ("--skip-check", "--soft-fail", "--check", " -c ", "--baseline"):
        assert narrowing not in scan, narrowing
