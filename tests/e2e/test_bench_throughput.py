"""bench/throughput.py: its percentile, its deliveries, and a small run on the e2e stack (not
timed: only that every delivery is accepted and the figure has every part)."""

import json
import sys

import pytest
from standardwebhooks.webhooks import Webhook

from bench import throughput
from local import config
from local.stack import LocalStack


def test_percentile_is_the_nearest_rank() -> None:
    assert throughput.percentile([4.0, 1.0, 3.0, 2.0], 0.50) == 2.0
    hundred = [float(n) for n in range(1, 101)]
    assert throughput.percentile(hundred, 0.99) == 99.0
    assert throughput.percentile(hundred, 0.50) == 50.0
    assert throughput.percentile(hundred, 1.0) == 100.0
    assert throughput.percentile([7.0], 0.99) == 7.0


@pytest.mark.parametrize(("values", "fraction"), [([], 0.5), ([1.0], 0.0), ([1.0], 1.5)])
def test_percentile_refuses_what_has_none(values: list[float], fraction: float) -> None:
    with pytest.raises(ValueError):
        throughput.percentile(values, fraction)


def test_each_delivery_is_a_signed_failure_of_its_own_payment() -> None:
    secret = config.PAYMENTS_WEBHOOK_SECRET
    ids = throughput.payment_ids("t", 3)
    deliveries = [throughput.delivery(secret, payment_id) for payment_id in ids]
    for payment_id, delivery in zip(ids, deliveries, strict=True):
        event = Webhook(secret).verify(delivery.body, delivery.headers)
        assert event["type"] == "payment.failed"
        assert event["data"]["payment_id"] == payment_id
    assert len(set(ids)) == 3
    assert len({d.headers["webhook-id"] for d in deliveries}) == 3


def test_senders_share_the_deliveries_without_overlap() -> None:
    ids = throughput.payment_ids("s", 10)
    batches = throughput.split(ids, 3)
    assert sorted(len(batch) for batch in batches) == [3, 3, 4]
    assert sorted(payment_id for batch in batches for payment_id in batch) == sorted(ids)


def test_a_small_run_is_all_accepted_and_the_figure_has_every_part(stack: LocalStack) -> None:
    figure = throughput.measure(senders=2, total=10, stack=stack)

    assert json.loads(json.dumps(figure)) == figure  # what bench/results.json can hold
    assert figure["senders"] == 2
    assert figure["sent"] == 10
    assert figure["count"] > 0
    assert 0 < figure["p50_ms"] <= figure["p99_ms"]
    for part in throughput.PARTS:
        assert f"{part}_ms_p50" in figure
    for part in set(throughput.PARTS) - {"outside"}:
        assert f"{part}_ms_p99" in figure
    assert 0 < figure["handler_ms_p50"] <= figure["call_ms_p50"] <= figure["gateway_ms_p50"]
    assert figure["workers"] == config.MAX_WORKERS_PER_FUNCTION
    if sys.platform == "linux":
        assert set(figure["cpu_ms_per_webhook"]) == {
            "dynamodb_local",
            "gateway",
            "moto",
            "senders",
            "workers",
        }
        assert figure["cpu_ms_per_webhook"]["workers"] > 0
    # The stack's timing hooks are off again.
    assert stack.gateway is not None and stack.gateway.observer is None
    assert stack.workers is not None
    assert all(pool.observer is None for pool in stack.workers.pools.values())
