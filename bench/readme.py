"""The README's benchmark tables, written from bench/results.json: `make bench` rewrites the part of
README.md between the two markers, and tests/unit/infra/test_bench_readme.py checks that the
committed README shows the committed figures, so the table a reader sees is the last run's.

Imports nothing of the stack: the test that reads it is a unit test.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- bench:start (written by make bench from bench/results.json) -->"
END = "<!-- bench:end -->"

type Results = dict[str, dict[str, Any]]


def tables(results: Results) -> str:
    """Every section of the results that is there, one Markdown table each."""
    parts = [
        part
        for section, render in SECTIONS
        if section in results and (part := render(results[section]))
    ]
    return "\n\n".join(parts)


def rewritten(readme: str, results: Results) -> str:
    """The README with its benchmark part replaced (the markers must be there, once each)."""
    head, found, rest = readme.partition(START)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"README.md has no {START!r} … {END!r} part")
    return f"{head}{START}\n{tables(results)}\n{END}{tail}"


def write(results: Results, readme: Path = README) -> None:
    readme.write_text(rewritten(readme.read_text(encoding="utf-8"), results), encoding="utf-8")


def markdown(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def cold_start(figures: dict[str, Any]) -> str:
    return markdown(
        ["function", "cold start ÷ floor", "import (ms)", "floor (ms)", "unzipped (MB)"],
        (
            (
                name,
                f"{f['ratio']:.2f}",
                round(f["import_ms"]),
                round(f["floor_ms"]),
                f["unzipped_mb"],
            )
            for name, f in sorted(figures.items())
        ),
    )


def peak_rss(figures: dict[str, Any]) -> str:
    return markdown(
        ["function", "peak memory (MB)", "MemorySize (MB)", "invocation"],
        (
            [name, f["count"], f["memory_size_mb"], f["event"]]
            for name, f in sorted(figures.items())
        ),
    )


def requests(figures: dict[str, Any]) -> str:
    return markdown(
        ["operation", "DynamoDB requests", "by API", "read units", "write units"],
        (
            (
                f"`{name}`",
                _number(f["count"]),
                _by_api(f["by_api"]),
                _number(f.get("read_units", "")),
                _number(f.get("write_units", "")),
            )
            for name, f in sorted(figures.items())
        ),
    )


def item_bytes(figures: dict[str, Any]) -> str:
    return markdown(
        ["item", "largest (bytes)", "median (bytes)"],
        ([f"`{name}`", f["count"], f["median"]] for name, f in sorted(figures.items())),
    )


def read_amplification(figures: dict[str, Any]) -> str:
    return markdown(
        ["read", "items scanned ÷ matched", "with"],
        ([f"`{name}`", f"{f['ratio']:.2f}", _with(f)] for name, f in sorted(figures.items())),
    )


def overhead(figures: dict[str, Any]) -> str:
    return markdown(
        ["handler", "handler ÷ bare boto3 throughput", "handler (ops/s)", "bare (ops/s)"],
        (
            [f"`{name}`", f"{f['ratio']:.2f}", f["handler_ops_per_s"], f["bare_ops_per_s"]]
            for name, f in sorted(figures.items())
        ),
    )


def throughput(figures: dict[str, Any]) -> str:
    header = ["through the local gateway", "webhooks per second", "senders", "p50 (ms)"]
    header += ["p99 (ms)", "of the p50: waiting for a worker", "in the handler (its CPU)"]
    return markdown(
        header,
        (
            (
                f"`{name}`",
                f["count"],
                f["senders"],
                f["p50_ms"],
                f["p99_ms"],
                f.get("queue_ms_p50", ""),
                f"{f.get('handler_ms_p50', '')} ({f.get('handler_cpu_ms_p50', '')})",
            )
            for name, f in sorted(figures.items())
        ),
    )


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _by_api(by_api: dict[str, Any]) -> str:
    return ", ".join(f"{name} {_number(n)}" for name, n in sorted(by_api.items()))


def _with(figure: dict[str, Any]) -> str:
    if "cards" in figure:
        return f"{figure['cards']:,} cards in the table"
    return f"{figure['rows']:,} rows in the table"


SECTIONS = (
    ("cold_start", cold_start),
    ("peak_rss_mb", peak_rss),
    ("requests", requests),
    ("item_bytes", item_bytes),
    ("read_amplification", read_amplification),
    ("overhead", overhead),
    ("webhooks_per_second", throughput),
)
