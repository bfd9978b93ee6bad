"""TransactWriteItems and its cancellations (adapters/dynamodb/store.py `transact`): a transaction
that met a concurrent one on an item applied nothing and is sent again, a few times at most; a
failed condition is a StoreConflict at once."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from payment_action_center.adapters.dynamodb import store
from payment_action_center.domain.errors import DeliveryInFlight
from payment_action_center.ports import StoreConflict


class Answers:
    """A DynamoDB client whose transactions are cancelled with each given list of reasons in
    turn, then succeed; it counts the calls."""

    def __init__(self, *cancellations: tuple[str, ...]) -> None:
        self.cancellations = list(cancellations)
        self.calls = 0

    def transact_write_items(self, **_: Any) -> None:
        self.calls += 1
        if self.cancellations:
            codes = self.cancellations.pop(0)
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": code} for code in codes],
                },
                "TransactWriteItems",
            )


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(store.time, "sleep", pauses.append)
    return pauses


def test_a_conflict_is_sent_again_after_a_pause_and_goes_through(no_pause: list[float]) -> None:
    client = Answers(("None", "TransactionConflict"), ("TransactionConflict", "None"))
    store.transact(client, ["entry", "counters"], [{}, {}])
    assert client.calls == 3
    assert len(no_pause) == 2 and all(0 < pause <= 0.1 for pause in no_pause)


def test_conflicts_every_time_are_in_flight_after_the_last_attempt() -> None:
    client = Answers(*[("TransactionConflict",)] * store.CONFLICT_ATTEMPTS)
    with pytest.raises(DeliveryInFlight):
        store.transact(client, ["entry"], [{}])
    assert client.calls == store.CONFLICT_ATTEMPTS


def test_a_failed_condition_is_not_sent_again() -> None:
    client = Answers(("ConditionalCheckFailed", "None"))
    with pytest.raises(StoreConflict) as conflict:
        store.transact(client, ["entry", "audit"], [{}, {}])
    assert conflict.value.failed == {"entry"}
    assert client.calls == 1
