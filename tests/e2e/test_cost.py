"""`healthwatch cost`: the month's bill from the schedules and the stored runs."""

from __future__ import annotations

import json

import pytest

from tests.fakes.server import FakeServer, Response
from tests.helpers import healthwatch


def test_cost_counts_runs_from_schedules_and_durations_from_stored_runs(tmp_path):
    with FakeServer() as server:
        server.route("GET", "/health", Response(200, {"status": "ok"}, delay=0.2))
        doc = {
            "tiers": {
                "quick": {"schedule": "rate(15 minutes)"},
                "hourly": {"schedule": "rate(1 hour)"},
                "nightly": {"schedule": "cron(0 3 * * ? *)"},
            },
            "checks": [
                {"id": "a", "tier": "quick", "url": f"{server.url}/health"},
                {"id": "b", "tier": "quick", "url": f"{server.url}/health"},
                {"id": "c", "tier": "hourly", "url": f"{server.url}/health"},
                {"id": "d", "tier": "nightly", "url": f"{server.url}/health"},
            ],
        }
        config = tmp_path / "checks.yaml"
        config.write_text(json.dumps(doc))
        data = tmp_path / "data"
        assert healthwatch(config, data, "run", "--tier", "quick").returncode == 0

        proc = healthwatch(config, data, "cost", "--json")

    assert proc.returncode == 0, proc.stderr
    bill = json.loads(proc.stdout)
    quick, hourly = bill["tiers"]
    latest = json.loads((data / "latest" / "quick.json").read_text())
    # Runs from the schedule; the duration is the stored run's
    assert (quick["runs_per_month"], hourly["runs_per_month"]) == (2880, 720)
    assert quick["duration_s"] == latest["duration_ms"] / 1000 and quick["duration_s"] >= 0.2
    assert hourly["duration_s"] is None  # never run: no compute counted
    gb_s = 2880 * quick["duration_s"] * 0.5
    assert quick["usd"]["lambda compute"] == pytest.approx(gb_s * 0.0000166667, abs=1e-4)
    assert hourly["usd"]["lambda compute"] == 0
    assert quick["usd"]["dynamodb writes"] == pytest.approx(2880 * (2 * 2 + 2) * 0.625e-6, abs=1e-4)
    # Synthetics: one canary run per check per run
    assert quick["synthetics_usd"] == pytest.approx(2 * 2880 * 0.0012, abs=0.01)
    assert hourly["synthetics_usd"] == pytest.approx(720 * 0.0012, abs=0.01)
    assert bill["usd_total"] < bill["synthetics_usd_total"]
    assert bill["not_costed"] == ["nightly (a cron() schedule: its runs per month are not counted)"]

    text = healthwatch(config, data, "cost")
    assert text.returncode == 0 and "SYNTHETICS" in text.stdout and "not run" in text.stdout


def test_a_split_tier_costs_every_shard_and_every_region(tmp_path):
    with FakeServer() as server:
        server.route("GET", "/health", Response(200, {"status": "ok"}))
        doc = {
            "tiers": {"quick": {"schedule": "rate(15 minutes)", "shard_size": 2}},
            "regions": ["home-1", "eu-west-1"],  # no endpoint_url: skipped locally
            "checks": [
                {"id": f"c{i}", "tier": "quick", "url": f"{server.url}/health"} for i in range(5)
            ],
        }
        config = tmp_path / "checks.yaml"
        config.write_text(json.dumps(doc))
        data = tmp_path / "data"
        assert healthwatch(config, data, "run").returncode == 0
        proc = healthwatch(config, data, "cost", "--json")

    assert proc.returncode == 0, proc.stderr
    [quick] = json.loads(proc.stdout)["tiers"]
    # (a shard with no checks writes no latest document)
    shards = [json.loads(p.read_text()) for p in (data / "latest").glob("quick.shard-*.json")]
    assert 1 <= len(shards) <= 3
    # Lambda time is every shard's, in both regions; a request per shard per region
    assert quick["duration_s"] == pytest.approx(sum(s["duration_ms"] for s in shards) / 1000)
    # (the bill is rounded to a hundredth of a cent)
    assert quick["usd"]["lambda requests"] == pytest.approx(2880 * 3 * 2 * 0.2e-6, abs=1e-4)
    assert quick["usd"]["lambda compute"] == pytest.approx(
        2880 * quick["duration_s"] * 2 * 0.5 * 0.0000166667, abs=1e-4
    )
