"""Which shard runs which check: stable across processes, balanced, and moving few checks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from healthwatch.engine.shards import Shard, select, shard_count, shard_of

IDS = [f"check-{i:05d}" for i in range(20_000)]


def test_shard_count_is_the_ceiling_of_checks_over_shard_size():
    assert shard_count(20_000, 2_000) == 10
    assert shard_count(20_001, 2_000) == 11
    assert shard_count(2_000, 2_000) == 1
    assert shard_count(5, None) == 1
    assert shard_count(0, 3) == 1


def test_a_checks_shard_is_the_same_in_every_process():
    # Python's own hash() of a str changes with PYTHONHASHSEED; the shard must not
    code = (
        "from healthwatch.engine.shards import shard_of; "
        "print(','.join(str(shard_of(f'check-{i:05d}', 7)) for i in range(300)))"
    )
    seen = set()
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        seen.add(out.stdout.strip())
    here = ",".join(str(shard_of(i, 7)) for i in IDS[:300])
    assert seen == {here}


def test_shards_are_balanced():
    sizes = Counter(shard_of(i, 10) for i in IDS)
    assert set(sizes) == set(range(10))
    assert all(1_800 <= n <= 2_200 for n in sizes.values()), sizes


@pytest.mark.parametrize("before", [1, 2, 5, 9, 10])
def test_one_more_shard_moves_only_its_share_and_only_to_the_new_shard(before):
    after = before + 1
    moved = [i for i in IDS if shard_of(i, before) != shard_of(i, after)]
    assert {shard_of(i, after) for i in moved} == {before}
    share = len(IDS) / after
    assert 0.9 * share <= len(moved) <= 1.1 * share


def test_adding_checks_moves_none_of_the_others_while_the_count_holds():
    first = {i: shard_of(i, 4) for i in IDS[:8_000]}
    more = IDS[:8_000] + [f"new-{n}" for n in range(100)]
    assert all(shard_of(i, 4) == first[i] for i in more if i in first)


def test_select_splits_a_tier_with_nothing_left_out_and_nothing_twice():
    parts = [select(IDS, IDS, Shard(k, 6)) for k in range(6)]
    assert sorted(x for part in parts for x in part) == sorted(IDS)
    assert select(IDS[:5], IDS[:5], Shard()) == IDS[:5]


@pytest.mark.parametrize("index,count", [(-1, 3), (3, 3), (0, 0)])
def test_a_shard_that_cannot_exist_is_refused(index, count):
    with pytest.raises(ValueError, match="does not exist"):
        Shard(index, count)
