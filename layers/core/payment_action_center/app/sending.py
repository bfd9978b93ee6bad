"""Sending each message at most once (docs/contract.md §4.3): the loop of the daily digest
(payment_action_center/app/digest.py) and of the expiring card notices (card_notices.py).

A ledger row per organization, period and key is claimed before the send: whatever reruns,
retries or duplicate deliveries happen, nobody gets two. A message the provider refused is
released, and the next delivery of the unit of work sends it; one that got no answer keeps its
claim and is never sent again, since it may have gone.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from payment_action_center.ports import Email, Mailer, MailerError, MailerOutcomeUnknown, SendLedger

log = logging.getLogger(__name__)


@dataclass
class Report:
    """What one unit of work did for an organization in a period (the ledger's scope), each
    message named by its ledger key."""

    organization_id: str
    period: str = ""
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # refused: released for the next delivery
    skipped: list[str] = field(default_factory=list)  # not an address: never tried
    already_sent: list[str] = field(default_factory=list)  # claimed by an earlier run
    unknown: list[str] = field(default_factory=list)  # no answer: the claim stays

    def counts(self) -> dict[str, int]:
        return {
            "sent": len(self.sent),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "already_sent": len(self.already_sent),
            "unknown": len(self.unknown),
        }


@dataclass(frozen=True)
class Message:
    key: str
    to: str
    email: Callable[[], Email]  # rendered only once claimed


def valid_address(text: str) -> str | None:
    """The address in its normalized form, or None when the text is not one.

    email_validator is imported here, on the send path: the fan-out functions (DailyDigest,
    CardExpiryScan) import this module for its messages but never validate an address, and
    should not pay for the library at cold start.
    """
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415

    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def send_once(
    messages: Iterable[Message], report: Report, *, ledger: SendLedger, mailer: Mailer, sender: str
) -> Report:
    """Send each message not yet sent in the report's organization and period; the outcome of
    each goes to `report`."""
    organization_id = report.organization_id
    for message in messages:
        if not ledger.claim(organization_id, report.period, message.key):
            report.already_sent.append(message.key)
            continue
        try:
            mailer.send(sender, message.to, message.email())
        except MailerError as error:
            # The mail service's reason code only: its message may quote the address. The next
            # delivery tries again.
            log.warning("send refused", extra={"org": organization_id, "reason": error.code})
            ledger.release(organization_id, report.period, message.key, str(error))
            report.failed.append(message.key)
            continue
        except MailerOutcomeUnknown:
            # At most once: the claim stays "sending" and this message is not tried again.
            log.exception("send outcome unknown", extra={"org": organization_id})
            report.unknown.append(message.key)
            continue
        ledger.sent(organization_id, report.period, message.key)
        report.sent.append(message.key)
    return report
