"""The organization's shard of the two write-sharded index partitions (adapters/dynamodb/keys.py):
stable across processes, two digits in range, and spread evenly over many organizations."""

import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_action_center.adapters.dynamodb import keys


def test_the_shard_is_the_same_in_every_process() -> None:
    # CRC-32 values, not hash(): a salted hash would change these from one run to the next.
    assert keys.shard("org_demo", 16) == "08"
    assert keys.shard("org_other", 16) == "02"
    assert keys.shard("", 16) == "00"
    assert keys.shard("org_other", 100) == "34"


@given(organization_id=st.text(), shards=st.integers(min_value=1, max_value=100))
def test_a_shard_is_two_digits_below_the_count(organization_id: str, shards: int) -> None:
    found = keys.shard(organization_id, shards)
    assert len(found) == 2 and found.isdigit() and int(found) < shards
    assert found in keys.every_shard(shards)


def test_every_shard_is_listed_in_order() -> None:
    assert keys.every_shard(16) == [f"{n:02d}" for n in range(16)]
    assert keys.every_shard(keys.FAILDAY_SHARDS) == sorted(keys.every_shard(keys.FAILDAY_SHARDS))


@pytest.mark.parametrize(
    "organization",
    [
        lambda n: f"org_{n:04d}",
        lambda n: f"org_{uuid.uuid5(uuid.NAMESPACE_URL, str(n)).hex[:26]}",
    ],
    ids=["numbered", "random-looking"],
)
@pytest.mark.parametrize("shards", [keys.FAILDAY_SHARDS, keys.EXPIRY_SHARDS])
def test_many_organizations_spread_over_every_shard(
    organization: Callable[[int], str], shards: int
) -> None:
    per_shard = Counter(keys.shard(organization(n), shards) for n in range(1_000))
    assert set(per_shard) == set(keys.every_shard(shards))
    assert max(per_shard.values()) <= 2 * 1_000 / shards


def test_the_index_partitions_end_in_the_shard() -> None:
    assert keys.failure_day("2026-11-25", "08") == "FAILDAY#2026-11-25#08"
    assert keys.expiry("2026-12", "02") == "EXPIRY#2026-12#02"
