"""The README shows the last `make bench` run: its benchmark tables are the committed
bench/results.json rendered by bench/readme.py. Not timed."""

import json
from pathlib import Path

import pytest

from bench import readme

ROOT = Path(__file__).resolve().parents[3]
RESULTS = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))


def test_the_readme_shows_the_committed_figures() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.rewritten(text, RESULTS) == text, "run `make bench` (or bench/readme.py)"


def test_every_section_of_the_results_has_its_own_table() -> None:
    """Each section's table is there, headed as its renderer heads it, with a row per figure."""
    rendered = readme.tables(RESULTS)
    renderers = dict(readme.SECTIONS)
    assert set(RESULTS) <= set(renderers)
    for section, figures in RESULTS.items():
        table = renderers[section](figures)
        heading = table.splitlines()[0]
        assert rendered.count(heading) == 1, section
        assert len(table.splitlines()) == 2 + len(figures), section
        assert table in rendered, section


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="bench:start"):
        readme.rewritten("# no tables here\n", RESULTS)


def test_the_tables_replace_only_what_is_between_the_markers() -> None:
    text = f"before\n{readme.START}\nold table\n{readme.END}\nafter\n"
    once = readme.rewritten(text, {"item_bytes": {"entry": {"count": 964, "median": 900}}})
    assert once == (
        f"before\n{readme.START}\n| item | largest (bytes) | median (bytes) |\n"
        f"| --- | --- | --- |\n| `entry` | 964 | 900 |\n{readme.END}\nafter\n"
    )
    assert readme.rewritten(once, {"item_bytes": {"entry": {"count": 964, "median": 900}}}) == once
