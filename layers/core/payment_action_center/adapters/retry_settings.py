"""The retry guard's caps as settings, for the functions that request retries (the API, and the
watchdog's automatic policy): a module of its own, so that the other functions do not import
the decline tables at cold start."""

from datetime import timedelta

from pydantic import Field

from payment_action_center.adapters.settings import Settings
from payment_action_center.domain.retry_rules import RetryCaps


class RetryRulesSettings(Settings):
    """The caps of the retry guard (domain/retry_rules.py), for the functions that request
    retries: the networks' and Nacha's by default."""

    visa_reattempts: int = Field(alias="RETRY_VISA_REATTEMPTS", default=15, ge=0)
    mastercard_reattempts: int = Field(alias="RETRY_MASTERCARD_REATTEMPTS", default=35, ge=0)
    debit_representments: int = Field(alias="RETRY_DEBIT_REPRESENTMENTS", default=2, ge=0)
    debit_window_days: int = Field(alias="RETRY_DEBIT_WINDOW_DAYS", default=180, ge=1)

    def retry_caps(self) -> RetryCaps:
        return RetryCaps(
            visa_reattempts=self.visa_reattempts,
            mastercard_reattempts=self.mastercard_reattempts,
            debit_representments=self.debit_representments,
            debit_window=timedelta(days=self.debit_window_days),
        )
