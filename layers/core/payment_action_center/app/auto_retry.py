"""The automatic retry policy (docs/contract.md §2, docs/architecture.md §6): in each run of the
retry watchdog (app/watchdog.py, every 15 minutes), the organizations whose policy is on and whose
visit is due have their soft declines retried on the policy's days, through the same request as an
admin's retry (app/actions.py `request_retry_as`): the same guard, the same conditional write, the
same idempotency key at the processor.

An organization is visited when its marker's `visit_at` has come (adapters/dynamodb/
policy_store.py): at the save of its policy, then at its next local_time (every automatic attempt
is due at local_time), or earlier when a Mastercard retry-after delay ends. A run that did not
happen is caught up by the next one (`visit_at` stays in the past until a visit moves it); a
second visit the same day retries nothing twice, since each automatic request increments the
entry's `auto_attempts` in its conditional write.
"""

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from payment_action_center.app import actions
from payment_action_center.app.outbox import transition
from payment_action_center.domain import auto_retry, timestamps
from payment_action_center.domain.auto_retry import RetryPolicy
from payment_action_center.domain.entries import (
    AUTO_RETRY,
    AuditEvent,
    Caller,
    Entry,
    Role,
    Status,
)
from payment_action_center.domain.errors import Conflict, DeliveryInFlight, RetryNotAllowed
from payment_action_center.domain.listing import MAX_LIMIT, EntryFilter, Position
from payment_action_center.domain.retry_rules import RetryCaps
from payment_action_center.ports import (
    BillingStore,
    EntryStore,
    RetryPolicyStore,
    RetryQueue,
    StoreConflict,
)

log = logging.getLogger(__name__)

# An organization whose settings (its time zone) have not arrived is looked at again this late.
NO_SETTINGS_RETRY = timedelta(hours=1)


def run(
    store: EntryStore,
    policies: RetryPolicyStore,
    billing: BillingStore,
    queue: RetryQueue,
    caps: RetryCaps,
    now: str,
    *,
    needs_account: bool = False,
) -> dict[str, int]:
    """Visit every organization due; returns what was done, by outcome. `needs_account`: the
    processor charges each organization's own account, which its settings must name."""
    done: dict[str, int] = {}
    for organization_id, policy in policies.policies_due(now):
        try:
            outcomes = visit(
                store, policies, billing, queue, caps, organization_id, policy, now, needs_account
            )
        except Exception:  # one organization's trouble never stops the others; visited again
            log.exception("automatic retries not run", extra={"organization_id": organization_id})
            outcomes = {"auto_retry_failed": 1}
        for outcome, count in outcomes.items():
            done[outcome] = done.get(outcome, 0) + count
    return done


def visit(
    store: EntryStore,
    policies: RetryPolicyStore,
    billing: BillingStore,
    queue: RetryQueue,
    caps: RetryCaps,
    organization_id: str,
    policy: RetryPolicy,
    now: str,
    needs_account: bool = False,
) -> dict[str, int]:
    """Retry the organization's entries that are due, then set its next visit."""
    done: dict[str, int] = {}
    organization = billing.organization(organization_id)
    if organization is None or (needs_account and organization.processor_account_id is None):
        # No time zone to schedule in, or no account to charge on: nothing can be due yet.
        policies.visited(organization_id, policy, auto_retry_later(now))
        return {"auto_retry_unready": 1}
    time_zone = organization.time_zone
    next_visit = auto_retry.next_visit(policy, time_zone, now)
    if not auto_retry.in_window(policy, time_zone, now):
        # Saved, or a wait ended, outside the hours of the attempts: the next local_time.
        policies.visited(organization_id, policy, next_visit)
        return {}
    for entry in failed_entries(store, organization_id):
        due = auto_retry.is_due(entry, policy, time_zone, now)
        if due is None:
            continue
        try:
            outcome, wait_until = attempt(store, queue, caps, billing, entry, due, policy, now)
        except Exception:  # this entry's trouble stops neither the others nor the next run
            log.exception("automatic retry not requested", extra={"entry_id": entry.id})
            outcome, wait_until = "auto_retry_failed", now  # visited again by the next run
        done[outcome] = done.get(outcome, 0) + 1
        if wait_until is not None:
            next_visit = min(next_visit, wait_until)
    policies.visited(organization_id, policy, next_visit)
    return done


def attempt(
    store: EntryStore,
    queue: RetryQueue,
    caps: RetryCaps,
    billing: BillingStore,
    entry: Entry,
    due: int,
    policy: RetryPolicy,
    now: str,
) -> tuple[str, str | None]:
    """Request automatic attempt `due` (0-based) of a due entry. Returns the outcome and, when
    the rules ask to wait (or the entry changed meanwhile), when to look again."""
    automatic = due + 1
    try:
        actions.request_retry_as(
            store, queue, AUTO_RETRY, entry, now, caps=caps, billing=billing, automatic=automatic
        )
    except RetryNotAllowed as refused:
        if refused.allowed_at is not None:
            return "auto_retry_waiting", refused.allowed_at
        return stop(store, entry, refused.message, now), None
    except (Conflict, DeliveryInFlight):
        # The entry changed since it was listed (an admin's retry or dismissal, a run at the
        # same time): the next run reads it again, not tomorrow's.
        return "auto_retry_skipped", now
    log.info(
        "automatic retry requested",
        extra={"entry_id": entry.id, "automatic": automatic, "days": list(policy.days)},
    )
    return "auto_retry_requested", None


def stop(store: EntryStore, entry: Entry, reason: str, now: str) -> str:
    """The rules refuse for good (a cap, a debit too old): no more automatic attempts for this
    entry, recorded and audited so the console no longer shows one to come."""
    stopped = entry.automatic_retries_stopped(reason, at=now)
    try:
        transition(
            store, stopped, AuditEvent(now, "auto_retry_stopped", AUTO_RETRY, {"reason": reason})
        )
    except (Conflict, StoreConflict, DeliveryInFlight):
        return "auto_retry_skipped"
    return "auto_retry_stopped"


def failed_entries(store: EntryStore, organization_id: str) -> list[Entry]:
    """The organization's `failed` entries: its open entries, filtered, every page."""
    where = EntryFilter(status=Status.FAILED)
    found: list[Entry] = []
    after: Position | None = None
    while True:
        page = store.list_open(organization_id, where, MAX_LIMIT, after)
        found += page.entries
        if page.next is None:
            return found
        after = page.next


def auto_retry_later(now: str) -> str:
    return timestamps.plus(now, NO_SETTINGS_RETRY)


# --- the policy, as a billing admin sees and sets it (GET and PUT /retry-policy) ----------------


def schedule_of(
    policies: RetryPolicyStore, organization_id: str, entries: Sequence[Entry]
) -> tuple[RetryPolicy, str | None] | None:
    """The organization's policy and time zone for the API's views of `entries` (one
    BatchGetItem), or None without reading when none of them may be retried automatically."""
    if not any(auto_retry.may_be_scheduled(entry) for entry in entries):
        return None
    return policies.policy_and_time_zone(organization_id)


def current_policy(policies: RetryPolicyStore, caller: Caller) -> RetryPolicy:
    """The caller's organization's policy (off by default)."""
    return policies.retry_policy(caller.org_id)


def change_policy(
    policies: RetryPolicyStore, caller: Caller, enabled: bool, days: list[int], local_time: str
) -> RetryPolicy:
    """Save the policy a billing admin asks for: 403 for anyone else, 400 (InvalidPayload)
    naming each rule it breaks, nothing saved."""
    caller.require(Role.BILLING_ADMIN)
    wanted = auto_retry.checked(enabled, days, local_time)
    saved = replace(wanted, updated_at=timestamps.now(), updated_by=caller.user_id)
    policies.save_retry_policy(caller.org_id, saved)
    return saved
