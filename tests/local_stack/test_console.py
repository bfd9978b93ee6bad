"""The console of `make dev` (local/console.py, local/lambda_worker.py): what a function prints
reaches it only if it is a warning or an error, unless PAC_VERBOSE=1."""

import json
import warnings

import pytest

from local import console, lambda_worker

INFO_LOG = json.dumps({"level": "INFO", "message": "payment event handled", "service": "pac"})
ERROR_LOG = json.dumps({"level": "ERROR", "message": "digest outcome unknown", "service": "pac"})
METRICS = json.dumps({"_aws": {"CloudWatchMetrics": []}, "PaymentEvent_accepted": [1.0]})
TRACEBACK = "Traceback (most recent call last):"


@pytest.mark.parametrize(
    ("line", "on_console"),
    [(INFO_LOG, False), (METRICS, False), (ERROR_LOG, True), (TRACEBACK, True), ("42", True)],
)
def test_the_console_shows_a_functions_warnings_and_errors_only(
    line: str, on_console: bool
) -> None:
    assert console.shown(line, verbose=False) is on_console


@pytest.mark.parametrize("line", [INFO_LOG, METRICS, ERROR_LOG, TRACEBACK])
def test_verbose_shows_every_line(line: str) -> None:
    assert console.shown(line, verbose=True)


def test_pac_verbose_1_makes_the_console_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAC_VERBOSE", "1")
    assert console.verbose()
    monkeypatch.setenv("PAC_VERBOSE", "0")
    assert not console.verbose()


def test_the_worker_silences_only_powertools_no_metrics_warning() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()  # pyproject.toml ignores this warning in the tests themselves
        warnings.simplefilter("always")
        lambda_worker.silence_local_noise()
        warnings.warn(
            "No application metrics to publish. The cold-start metric may be published if "
            "enabled. If application metrics should never be empty, consider using "
            "'raise_on_empty_metrics'",
            stacklevel=1,
        )
        warnings.warn("something else", stacklevel=1)
    assert [str(warning.message) for warning in seen] == ["something else"]
