"""The retry queue does not answer while an admin asks for a retry (docs/contract.md §2): the
API's SQS client gives up inside the function's Timeout, so the retry, recorded before the
message, answers 202 and the watchdog sends the work later (app/actions.py,
adapters/clients.py). tests/e2e/test_faults.py freezes the moto server for the same fault."""

from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from payment_action_center.adapters import clients
from tests.shared.lambdas import cold_start
from tests.unit.handlers.test_api import failure, get_entry, queued, retry
from tools.template import load

# What the API does before the message: read the entry, then one conditional write.
DYNAMODB_SECONDS = 3


@pytest.fixture
def api(aws: dict[str, str]) -> ModuleType:
    return cold_start("api")


def test_the_api_queue_client_gives_up_well_inside_the_api_timeout(api: ModuleType) -> None:
    template = load()
    api_function = template["Resources"]["ApiFunction"]["Properties"]
    timeout = api_function.get("Timeout", template["Globals"]["Function"]["Timeout"])
    config = api.transactions.adapters.retry_queue._client.meta.config
    attempts = config.retries["total_max_attempts"]
    assert config.retries["mode"] == "standard"  # its backoff is at most 2**(retry - 1) seconds
    waiting = (attempts - 1) * clients.QUEUE_BACKOFF_SECONDS
    worst = attempts * (config.connect_timeout + config.read_timeout) + waiting
    assert worst <= timeout - DYNAMODB_SECONDS


def test_a_queue_that_does_not_answer_leaves_the_retry_pending_with_a_202(api: ModuleType) -> None:
    entry_id = failure()
    sqs = api.transactions.adapters.retry_queue._client
    attempts: list[str] = []

    def no_answer(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    sqs.meta.events.register_first("before-send.sqs.SendMessage", no_answer)
    try:
        status, body = retry(api, entry_id)
    finally:
        sqs.meta.events.unregister("before-send.sqs.SendMessage", no_answer)
    assert (status, body["status"]) == (202, "retry_pending")
    assert len(attempts) == clients.QUEUE_ATTEMPTS
    assert queued() == []
    assert get_entry(api, entry_id)[1]["status"] == "retry_pending"
