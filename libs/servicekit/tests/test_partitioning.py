"""The relay's own partitioning must match Kafka's default partitioner, record for record."""

from __future__ import annotations

import os
import uuid

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference_murmur2
from hypothesis import given
from hypothesis import strategies as st
from servicekit.partitioning import murmur2, partition_for


@given(st.binary(max_size=64))
def test_murmur2_equals_the_kafka_client_reference(data: bytes) -> None:
    assert murmur2(data) == reference_murmur2(data) & 0xFFFFFFFF


def test_an_aggregate_id_lands_on_the_partition_kafka_clients_choose() -> None:
    partitions = list(range(12))
    for _ in range(1000):
        key = str(uuid.uuid4()).encode()
        assert partition_for(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_keys_of_every_tail_length_hash_like_the_reference() -> None:
    for length in range(0, 9):
        data = os.urandom(length)
        assert murmur2(data) == reference_murmur2(data) & 0xFFFFFFFF
