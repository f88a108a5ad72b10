"""Which invocation runs which check: a tier of more than `shard_size` checks is split.

A check's shard is a jump consistent hash (Lamping and Veach, 2014) of a stable 64-bit
digest of its id: the same in every process (never Python's salted `hash()`), and when
the number of shards grows from n to n + 1 only about 1/(n + 1) of the checks move, all
of them to the new shard. Alert state is kept per check, not per shard, so a check that
moves takes its state with it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from healthwatch.config import Config

T = TypeVar("T")
_JUMP = 2862933555777941757


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` of one tier run."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (self.count >= 1 and 0 <= self.index < self.count):
            raise ValueError(f"shard {self.index} of {self.count} does not exist")

    @property
    def split(self) -> bool:
        return self.count > 1


def shard_count(checks: int, shard_size: int | None) -> int:
    """`ceil(checks / shard_size)`, and 1 for a tier that is not split (or has no checks)."""
    if not shard_size or checks <= shard_size:
        return 1
    return math.ceil(checks / shard_size)


def shard_of(check_id: str, shards: int) -> int:
    """The shard (0 to shards - 1) that runs `check_id`."""
    key = int.from_bytes(hashlib.blake2b(check_id.encode(), digest_size=8).digest(), "big")
    bucket, jump = -1, 0
    while jump < shards:
        bucket = jump
        key = (key * _JUMP + 1) & 0xFFFFFFFFFFFFFFFF
        jump = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def plan(config: Config, tier: str) -> int:
    """How many shards a scheduled run of `tier` has today."""
    return shard_count(len(config.checks_for(tier)), config.tiers[tier].shard_size)


def select(items: Sequence[T], ids: Sequence[str], shard: Shard) -> list[T]:
    """The items (checks, by their ids) that belong to `shard`."""
    if not shard.split:
        return list(items)
    return [
        item for item, i in zip(items, ids, strict=True) if shard_of(i, shard.count) == shard.index
    ]
