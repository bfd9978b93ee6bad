"""`make fuzz` (tools/fuzz.py), bounded, on the package's local stack: schemathesis requests for
every operation of openapi.json with a billing admin's token and a plain member's, and signed,
hypothesis-generated webhook bodies, with a fixed seed. Every answer must be one the contract
documents (no 5xx, a declared status, content type and body, the error `code` of
docs/contract.md §4.1 and §4.2)."""

import json
import uuid
from pathlib import Path

from local.stack import LocalStack
from tools import fuzz

ROOT = Path(__file__).resolve().parents[2]
# Per operation: small enough for make test (15 to 40 s on 2 busy cores, the stack apart), large
# enough that every operation answers more than one way.
EXAMPLES = 6
# For the retries the fuzzed requests asked for to be done (each a charge at the sandbox).
IDLE_TIMEOUT = 60.0


def documented_operations() -> set[str]:
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    return {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    } | {f"POST /webhooks/{name}" for name in document["webhooks"]}


def test_fuzzed_requests_and_webhooks_get_only_answers_of_the_contract(
    stack: LocalStack,
) -> None:
    # Organizations of its own (tools/fuzz.py `organizations`), whatever ran on the stack before.
    tally = fuzz.fuzz(stack.url, EXAMPLES, fuzz.DEFAULT_SEED, run=f"e2e_{uuid.uuid4().hex[:8]}")
    print(tally.summary(0))  # shown by pytest when the test fails
    # The retries the fuzz asked for are done before the next test, which would otherwise see
    # them run (and charge) meanwhile on the shared stack.
    assert stack.wait_for_queues_idle(IDLE_TIMEOUT), f"queues still busy after {IDLE_TIMEOUT} s"

    assert not tally.failures, "\n\n".join(tally.failures)
    assert set(tally.cases) == documented_operations()
    # The cases reached the seeded entries, not only ids that exist nowhere.
    assert tally.statuses["GET /transactions/{id}"][200] > 0
    # A member without billing_admin tried to act, and was refused.
    assert tally.statuses["POST /transactions/{id}/retry"][403] > 0
    # Valid events took effect: the signing is right, so the refusals say something.
    assert tally.statuses["POST /webhooks/payments"][200] > 0
    assert tally.statuses["POST /webhooks/billing"][200] > 0
