"""A split tier on the local backend, through the real command: the shards run at once in
one process with one run id, each storing and deciding for its own checks, as the Lambda
fan-out does; re-sharding keeps every check's alert state."""

from __future__ import annotations

import json
from collections import Counter

from healthwatch.engine.shards import shard_of
from healthwatch.views import statuspage

from tests.fakes.server import FakeServer, Response
from tests.helpers import healthwatch

IDS = [f"svc-{n}" for n in range(7)]
DOWN = {"svc-1", "svc-4"}


def write(config, url: str, shard_size: int, down: set[str]) -> None:
    doc = {
        "defaults": {"failure_threshold": 1, "retry_interval": 0, "reminder_interval": 0},
        "tiers": {"quick": {"schedule": "rate(15 minutes)", "shard_size": shard_size}},
        "checks": [
            {"id": i, "tier": "quick", "url": f"{url}/{'down' if i in down else 'up'}"} for i in IDS
        ],
    }
    config.write_text(json.dumps(doc))


def alerts(data) -> list[tuple[str, str]]:
    path = data / "alerts.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(json.loads(x)["event"], json.loads(x)["check_id"]) for x in lines]


def test_a_split_tier_stores_each_check_once_per_run_and_resharding_keeps_alert_state(tmp_path):
    config, data = tmp_path / "checks.yaml", tmp_path / "data"
    with FakeServer() as target:
        target.route("GET", "/up", Response(200, {"status": "ok"}))
        target.route("GET", "/down", Response(503, {"status": "error"}))

        # Given 7 checks in shards of 2 (4 shards), two of them down
        write(config, target.url, 2, DOWN)
        first = healthwatch(config, data, "run", "--json")
        # When the tier is re-sharded (3 per shard: 3 shards) and runs, still down
        write(config, target.url, 3, DOWN)
        second = healthwatch(config, data, "run", "--json")
        # and then everything recovers
        write(config, target.url, 3, set())
        third = healthwatch(config, data, "run", "--json")

    assert [p.returncode for p in (first, second, third)] == [1, 1, 0], first.stderr
    runs = [json.loads(p.stdout) for p in (first, second, third)]
    # Then each run answers for every check once, in the config's order
    for run in runs:
        assert [r["check_id"] for r in run["results"]] == IDS
    # and stored one result object per shard, each check in exactly one of them
    for run, shards in zip(runs, (4, 3, 3), strict=True):
        day = run["started_at"][:10]
        suffix = run["run_id"][-4:]
        files = sorted((data / "results" / "tier=quick" / f"dt={day}").glob(f"*-{suffix}-*.json"))
        assert len(files) == shards
        got = Counter()
        for f in files:
            shard = int(f.stem.rsplit("-", 1)[1])
            ids = [json.loads(x)["check_id"] for x in f.read_text().splitlines()]
            assert {shard_of(i, shards) for i in ids} == {shard}
            got.update(ids)
        assert got == Counter(IDS)
    # and the alerts went out once each, across the re-sharding: the state moved with the check
    assert sorted(alerts(data)) == sorted(
        [("triggered", i) for i in DOWN] + [("resolved", i) for i in DOWN]
    )
    # and the status page's rollups count every result once, whichever shard counted it
    docs = [
        statuspage.load_rollup(p.read_bytes(), "quick")
        for p in sorted((data / "status").glob("rollup-quick.shard-*.json"))
    ]
    whole = statuspage.combine(docs, "quick")
    for cid in IDS:
        days = statuspage.day_counts(whole["checks"][cid]["days"])
        assert sum(sum(n.values()) for n in days.values()) == 3, cid
        assert whole["checks"][cid]["last"]["status"] == "up"
    page = (data / "status" / "index.html").read_text()
    assert all(page.count(f'data-check="{cid}"') == 1 for cid in IDS)
    # and each shard keeps its own latest document
    latest = sorted(p.name for p in (data / "latest").glob("quick.shard-*.json"))
    assert latest == [f"quick.shard-{k}.json" for k in range(4)]
