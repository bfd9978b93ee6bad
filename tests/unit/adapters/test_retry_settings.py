"""The retry guard's caps from the environment (adapters/retry_settings.py)."""

from datetime import timedelta

import pytest

from payment_action_center.adapters.retry_settings import RetryRulesSettings
from payment_action_center.domain.retry_rules import RetryCaps


def test_the_defaults_are_the_networks_and_nacha_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "t")
    for name in ("VISA_REATTEMPTS", "MASTERCARD_REATTEMPTS", "DEBIT_REPRESENTMENTS"):
        monkeypatch.delenv(f"RETRY_{name}", raising=False)
    monkeypatch.delenv("RETRY_DEBIT_WINDOW_DAYS", raising=False)
    assert RetryRulesSettings.from_env().retry_caps() == RetryCaps(
        visa_reattempts=15,
        mastercard_reattempts=35,
        debit_representments=2,
        debit_window=timedelta(days=180),
    )


def test_each_cap_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("RETRY_VISA_REATTEMPTS", "20")
    monkeypatch.setenv("RETRY_MASTERCARD_REATTEMPTS", "30")
    monkeypatch.setenv("RETRY_DEBIT_REPRESENTMENTS", "1")
    monkeypatch.setenv("RETRY_DEBIT_WINDOW_DAYS", "90")
    assert RetryRulesSettings.from_env().retry_caps() == RetryCaps(20, 30, 1, timedelta(days=90))


def test_a_negative_cap_stops_the_cold_start_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("RETRY_VISA_REATTEMPTS", "-1")
    with pytest.raises(RuntimeError, match="RETRY_VISA_REATTEMPTS"):
        RetryRulesSettings.from_env()
