"""How an SQS sender function (functions/digest_sender, functions/card_notice_sender) answers for
one unit of work: its metrics, one log line, and a failed record while a refused message waits.

A record that fails comes back after the visibility timeout: the ledger skips what was sent and
only the refused messages go again (payment_action_center/app/sending.py).
"""

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from payment_action_center.app.sending import Report


@dataclass(frozen=True)
class SenderMetrics:
    """The names of a sender's metrics (template.yaml alarms on some); no skipped metric: None."""

    sent: str
    failed: str
    skipped: str | None = None


class MessagesToRetry(Exception):
    """Some messages were refused and released: the record fails so that SQS delivers it again."""


def conclude(
    report: Report, names: SenderMetrics, *, what: str, logger: Logger, metrics: Metrics
) -> dict[str, Any]:
    """Metrics and "<what> sent" for the report; MessagesToRetry when a message was refused."""
    metrics.add_metric(name=names.sent, unit=MetricUnit.Count, value=len(report.sent))
    metrics.add_metric(name=names.failed, unit=MetricUnit.Count, value=len(report.failed))
    if names.skipped is not None:
        metrics.add_metric(name=names.skipped, unit=MetricUnit.Count, value=len(report.skipped))
    logger.info(f"{what} sent", extra={"period": report.period, **report.counts()})
    if report.failed:
        raise MessagesToRetry(f"{len(report.failed)} messages to retry")
    return {"sent": len(report.sent)}
