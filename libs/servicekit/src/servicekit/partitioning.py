"""Kafka's default key partitioning (Java client `Utils.murmur2`), fast enough for bulk relaying.

The relay assigns partitions itself so it can hand whole per-partition batches to the producer; it must
choose exactly the partition Kafka's own clients would, so that one aggregate's events land together
whoever produced them. aiokafka's pure-Python murmur2 works byte by byte; this one reads 4-byte words.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    length = len(data)
    h = (_SEED ^ length) & _MASK
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    base = length & ~3
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """The partition Kafka's default partitioner picks for a keyed record (``partitions`` sorted)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
