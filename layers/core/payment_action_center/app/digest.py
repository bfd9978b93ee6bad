"""The daily digest (docs/contract.md §4.3): once a day, in the 07:00 hour of each organization's
time zone, every failure of the last 24 hours, to the billing contact and the admins who opted in.

The hourly run reads only the organizations that had failures in the window (one index row per
organization and UTC day) and queues one unit of work per organization whose local hour is 7.
Each unit reads only that organization's failure log for the window, and sends once per
organization, local date and recipient (payment_action_center/app/sending.py): whatever reruns,
retries or duplicate deliveries happen, nobody gets two; a recipient whose send was refused is
retried by the next delivery of the unit.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from payment_action_center.app import auto_retry, sending
from payment_action_center.app.preferences import unsubscribe_signature
from payment_action_center.app.recovery import organization_figures
from payment_action_center.app.sending import Message, Report
from payment_action_center.app.work import DigestWork
from payment_action_center.domain import auto_retry as auto_retry_schedule
from payment_action_center.domain import timestamps
from payment_action_center.domain.auto_retry import ScheduledRetries
from payment_action_center.domain.billing import Organization
from payment_action_center.domain.entries import Locale
from payment_action_center.domain.recovery import RecoveryFigures
from payment_action_center.ports import (
    BillingStore,
    DigestLine,
    DigestRenderer,
    Email,
    EntryStore,
    FailureLog,
    Mailer,
    Preferences,
    PreferencesStore,
    RecoveryCounters,
    RetryPolicyStore,
    SendLedger,
)

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
SEND_HOUR = 7


# --- the hourly run -------------------------------------------------------------------------


def due(now: str, failures: FailureLog, billing: BillingStore) -> list[DigestWork]:
    """The organizations whose 07:00 hour it is and that had failures in the last 24 hours."""
    start = timestamps.plus(now, -WINDOW)
    candidates = sorted(
        {org for day in {start[:10], now[:10]} for org in failures.organizations_with_failures(day)}
    )
    known = billing.organizations(candidates)
    work = []
    for organization_id in candidates:
        organization = known.get(organization_id)
        if organization is None:
            log.warning(
                "no settings for an organization with failures", extra={"org": organization_id}
            )
            continue
        local = timestamps.to_datetime(now).astimezone(ZoneInfo(organization.time_zone))
        if local.hour == SEND_HOUR:
            work.append(DigestWork(organization_id, now, local.date().isoformat()))
    return work


# --- one organization -----------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    address: str
    locale: Locale
    user_id: str | None  # None: the billing contact


@dataclass(frozen=True)
class Links:
    """Where the footer and the List-Unsubscribe header point."""

    api_url: str
    unsubscribe_key: bytes

    def preferences(self, organization: Organization) -> str:
        separator = "&" if "?" in organization.console_url else "?"
        query = urlencode({"view": "notification-preferences"})
        return f"{organization.console_url}{separator}{query}"

    def unsubscribe(self, organization_id: str, user_id: str) -> str:
        query = {
            "o": organization_id,
            "u": user_id,
            "s": unsubscribe_signature(self.unsubscribe_key, organization_id, user_id),
        }
        return (
            f"{self.api_url.rstrip('/')}/me/notification-preferences/unsubscribe?{urlencode(query)}"
        )


def send_digest(
    work: DigestWork,
    *,
    failures: FailureLog,
    billing: BillingStore,
    preferences: PreferencesStore,
    ledger: SendLedger,
    mailer: Mailer,
    sender: str,
    links: Links,
    render: DigestRenderer,
    policies: RetryPolicyStore | None = None,
    entries: EntryStore | None = None,
    recovery: RecoveryCounters | None = None,
) -> Report:
    """Once per organization, local date and recipient; the report names recipients by address.
    `policies` and `entries`: given, an organization whose automatic retry policy is on is told
    how many retries are scheduled today, tomorrow and the day after. `recovery`: given, the
    digest opens with the recovery figures of the last 30 days (one Query per organization)."""
    report = Report(work.organization_id, work.local_date)
    organization = billing.organization(work.organization_id)
    if organization is None:
        return report
    lines = failures.failures(
        work.organization_id, after=timestamps.plus(work.window_end, -WINDOW), until=work.window_end
    )
    if not lines:
        return report
    scheduled = None
    if policies is not None and entries is not None:
        scheduled = scheduled_retries(policies, entries, organization, work.window_end)
    recovered = (
        recovery_figures(recovery, organization.id, work.window_end)
        if recovery is not None
        else None
    )
    email = partial(_email, organization, lines=lines, work=work, links=links, render=render)
    messages = [
        Message(r.address, r.address, partial(email, r, scheduled=scheduled, recovery=recovered))
        for r in recipients(organization, preferences.digest_subscribers(organization.id), report)
    ]
    return sending.send_once(messages, report, ledger=ledger, mailer=mailer, sender=sender)


def recipients(
    organization: Organization, subscribers: Sequence[Preferences], report: Report
) -> list[Recipient]:
    """The billing contact, then the admins who opted in; one message per address."""
    found: dict[str, Recipient] = {}
    candidates = [Recipient(organization.billing_contact_email, organization.locale, None)] + [
        Recipient(s.email, s.locale, s.user_id) for s in subscribers
    ]
    for candidate in candidates:
        address = sending.valid_address(candidate.address)
        if address is None:
            log.warning("digest recipient skipped: not an address", extra={"org": organization.id})
            report.skipped.append(candidate.address)
            continue
        key = address.lower()
        if key not in found or candidate.user_id is not None:
            found[key] = Recipient(address, candidate.locale, candidate.user_id)
    return list(found.values())


def scheduled_retries(
    policies: RetryPolicyStore, entries: EntryStore, organization: Organization, now: str
) -> ScheduledRetries | None:
    """The automatic retries to come (None while the policy is off): the policy, then the
    organization's failed entries (app/auto_retry.py `failed_entries`)."""
    policy = policies.retry_policy(organization.id)
    if not policy.enabled:
        return None
    failed = auto_retry.failed_entries(entries, organization.id)
    return auto_retry_schedule.scheduled_retries(failed, policy, organization.time_zone, now)


def recovery_figures(counters: RecoveryCounters, organization_id: str, now: str) -> RecoveryFigures:
    """The last 30 days' figures, UTC days ending with now's (domain/recovery.py)."""
    today = timestamps.to_datetime(now).date()
    return organization_figures(counters, organization_id, None, None, today)


def _email(
    organization: Organization,
    recipient: Recipient,
    *,
    lines: list[DigestLine],
    work: DigestWork,
    links: Links,
    render: DigestRenderer,
    scheduled: ScheduledRetries | None = None,
    recovery: RecoveryFigures | None = None,
) -> Email:
    preferences_url = links.preferences(organization)
    unsubscribe = (
        links.unsubscribe(organization.id, recipient.user_id)
        if recipient.user_id
        else preferences_url
    )
    email = render(
        organization=organization,
        locale=recipient.locale,
        lines=lines,
        preferences_url=preferences_url,
        unsubscribe_url=unsubscribe,
        window_end=work.window_end,
        scheduled=scheduled,
        recovery=recovery,
    )
    if recipient.user_id is None:
        # The billing contact always receives the digest: no one-click unsubscribe, only the link.
        headers = {k: v for k, v in email.headers.items() if k != "List-Unsubscribe-Post"}
        email = Email(email.subject, email.html, email.text, headers)
    return email
