"""`healthwatch run --all`: the tiers run at once, through the real command."""

from __future__ import annotations

import json

from tests.fakes.gates import InFlight
from tests.fakes.server import FakeServer
from tests.helpers import healthwatch


def test_run_all_probes_every_tier_at_once(tmp_path):
    # Given three tiers of one check each, on a target that holds every request until
    # all three are in flight together (so tiers run one after another never get there)
    gate = InFlight(peak=3, total=3)
    with FakeServer() as server:
        server.route("GET", "/held", gate)
        tiers = ["quick", "integrations", "comprehensive"]
        doc = {
            "tiers": {t: {"schedule": "rate(1 hour)"} for t in tiers},
            "checks": [
                {"id": f"{t}-check", "tier": t, "url": f"{server.url}/held", "timeout": "30s"}
                for t in tiers
            ],
        }
        config = tmp_path / "checks.yaml"
        config.write_text(json.dumps(doc))

        # When every tier runs
        proc = healthwatch(config, tmp_path / "data", "run", "--all", "--json")

    # Then the three requests were in flight at once, every tier has its result, and each
    # tier's own run record was stored
    assert proc.returncode == 0, proc.stderr
    assert gate.most == 3
    runs = json.loads(proc.stdout)
    assert [r["tier"] for r in runs] == tiers
    assert [[c["status"] for c in r["results"]] for r in runs] == [["up"]] * 3
    for t in tiers:
        latest = json.loads((tmp_path / "data" / "latest" / f"{t}.json").read_text())
        assert [c["check_id"] for c in latest["results"]] == [f"{t}-check"]
