"""How long the console takes to show its first table on the local stack, in Chromium:
`python -m tools.console_timing [--runs N]` (`make console-timing`).

Starts the local stack with its demo data on free ports, opens the demo host page N times in a
fresh browser context each (no cache), and reads the component's `pac-first-table` performance
mark (console/payment-action-center.js): milliseconds from the navigation's start. The first
run also starts the API function's workers (a cold start); the median is over the warm runs.
Also prints what the browser downloads for the console: each file's size, raw and gzip, and
the totals for the component embedded in a host page and for the standalone page (the
component, its host page and the sign-in; config.json, a few hundred bytes, left out).
"""

import argparse
import gzip
import statistics
from pathlib import Path

from playwright.sync_api import sync_playwright

from local.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


# What a host page embedding the component downloads; the standalone page adds the rest.
COMPONENT_FILES = ("payment-action-center.js", "api.js", "messages.js")


def sizes() -> list[tuple[str, int, int]]:
    return [
        (path.name, len(data := path.read_bytes()), len(gzip.compress(data, 9)))
        for path in sorted((ROOT / "console").iterdir())
        if path.suffix in {".js", ".html", ".css"}
    ]


def first_table_ms(stack: LocalStack, runs: int) -> list[float]:
    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        for _ in range(runs):
            context = browser.new_context(base_url=stack.url)
            page = context.new_page()
            page.goto("/?lang=fr-CA")
            page.wait_for_function(
                "() => performance.getEntriesByName('pac-first-table').length > 0",
                timeout=60_000,
            )
            timings.append(
                page.evaluate("() => performance.getEntriesByName('pac-first-table')[0].startTime")
            )
            context.close()
        browser.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    runs = parser.parse_args().runs
    for name, raw, packed in sizes():
        print(f"{name:32} {raw / 1024:6.1f} KB raw  {packed / 1024:5.1f} KB gzip")
    component = sum(packed for name, _, packed in sizes() if name in COMPONENT_FILES)
    total = sum(packed for _, _, packed in sizes())
    print(f"{'the component, embedded':32} {'':15} {component / 1024:5.1f} KB gzip")
    print(f"{'the standalone page, in all':32} {'':15} {total / 1024:5.1f} KB gzip")
    with LocalStack(
        gateway_port=None, dynamodb_port=None, moto_port=None, oidc_port=None, demo=True
    ) as stack:
        timings = first_table_ms(stack, runs)
    cold, warm = timings[0], timings[1:]
    print(f"first table: cold {cold:.0f} ms; warm median {statistics.median(warm):.0f} ms")
    print(f"  (warm min {min(warm):.0f}, max {max(warm):.0f}, {len(warm)} runs)")


if __name__ == "__main__":
    main()
