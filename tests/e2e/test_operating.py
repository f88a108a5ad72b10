"""`incidents`, `silence` and `unsilence` through the real command, local backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from healthwatch.notify.local import read_alerts

from tests.fakes.server import FakeServer, Response
from tests.helpers import healthwatch


@pytest.fixture
def world(tmp_path):
    health = {"api": 500, "web": 200}
    with FakeServer() as server:
        for name in health:
            server.route(
                "GET", f"/{name}", lambda req, n=name: Response(health[n], {"status": "x"})
            )
        doc = {
            "defaults": {"failure_threshold": 1, "retry_interval": 0, "timeout": "2s"},
            "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
            "checks": [
                {"id": n, "name": f"The {n}", "tier": "quick", "url": f"{server.url}/{n}"}
                for n in health
            ],
        }
        config = tmp_path / "checks.yaml"
        config.write_text(json.dumps(doc))
        yield World(config, tmp_path / "data", health)


class World:
    def __init__(self, config: Path, data: Path, health: dict[str, int]) -> None:
        self.config, self.data, self.health = config, data, health

    def cli(self, *args: str, config: Path | None = None):
        return healthwatch(config or self.config, self.data, *args)

    def events(self) -> list[tuple[str, str]]:
        return [(e.event, e.check_id) for e in read_alerts(self.data / "alerts.jsonl")]

    def incidents(self, config: Path | None = None) -> dict:
        proc = self.cli("incidents", "--json", config=config)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


def test_incidents_open_and_close_with_the_check(world, tmp_path):
    # Given a run in which api is down
    assert world.cli("run").returncode == 1

    # Then `incidents` lists it, since when and why, with the config's name...
    (open_,) = world.incidents()["incidents"]
    assert (open_["check_id"], open_["check_name"], open_["tier"]) == ("api", "The api", "quick")
    assert open_["reason"].startswith("condition_failed: [STATUS] (500) < 400")
    assert open_["started_at"] and open_["silenced_until"] is None

    # ...and from the stored state alone, where there is no config at all
    (bare,) = world.incidents(config=tmp_path / "nowhere" / "checks.yaml")["incidents"]
    assert (bare["check_id"], bare["check_name"], bare["tier"]) == ("api", "api", "quick")
    text = world.cli("incidents", config=tmp_path / "nowhere.yaml")
    assert "api" in text.stdout and "condition_failed" in text.stdout

    # When api recovers, the incident is gone
    world.health["api"] = 200
    assert world.cli("run").returncode == 0
    assert world.incidents()["incidents"] == []
    assert world.events() == [("triggered", "api"), ("resolved", "api")]


def test_a_silence_holds_the_alert_back_and_unsilence_lets_it_through(world):
    # Given web silenced for an hour, and then going down
    proc = world.cli("silence", "web", "--for", "1h", "--reason", "deploy")
    assert proc.returncode == 0, proc.stderr
    assert "silenced web until" in proc.stdout
    world.health.update(api=200, web=503)

    # When a run sees it down
    run = world.cli("run", "--json")

    # Then the result is recorded and marked, and no alert went out
    assert run.returncode == 1
    (web,) = [r for r in json.loads(run.stdout)["results"] if r["check_id"] == "web"]
    assert web["status"] == "down" and web["details"]["silenced"]["reason"] == "deploy"
    assert world.events() == []
    listed = world.incidents()
    assert listed["incidents"] == []
    assert [(s["target"], s["reason"]) for s in listed["silences"]] == [("web", "deploy")]

    # When it is unsilenced, the next run pages
    assert "unsilenced web" in world.cli("unsilence", "web").stdout
    assert world.cli("run").returncode == 1
    assert world.events() == [("triggered", "web")]
    assert world.incidents()["silences"] == []

    # And a silence of the tier holds reminders but not the resolution
    assert world.cli("silence", "quick", "--for", "30m").returncode == 0
    world.health["web"] = 200
    assert world.cli("run").returncode == 0
    assert world.events() == [("triggered", "web"), ("resolved", "web")]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["silence", "nope", "--for", "1h"], "unknown check or tier 'nope'"),
        (["silence", "api", "--for", "soon"], "--for:"),
        (["silence", "api", "--for", "0s"], "not a positive duration"),
        (["silence", "api", "--for", "90d"], "longer than 30d"),
        (["unsilence", "nope"], "unknown check or tier 'nope'"),
    ],
)
def test_a_bad_target_or_duration_is_exit_2_naming_it(world, args, says):
    proc = world.cli(*args)
    assert proc.returncode == 2
    assert says in proc.stderr
    assert not (world.data / "state.json").exists()  # nothing was written


def test_the_reading_commands_work_from_stored_data_alone(world, tmp_path):
    # Given two runs stored by the command, and then no config anywhere
    world.cli("run")
    world.health["api"] = 200
    world.cli("run")
    nowhere = tmp_path / "elsewhere" / "checks.yaml"

    # When history, report and status-page are asked from the data directory alone
    history = world.cli("history", "--check", "api", "--json", config=nowhere)
    report = world.cli("report", "--since", "1h", "--json", config=nowhere)
    page = tmp_path / "status.html"
    status = world.cli("status-page", "--out", str(page), config=nowhere)

    # Then each answers from the stored results, naming checks as the results name them
    assert history.returncode == 0, history.stderr
    assert [r["status"] for r in json.loads(history.stdout)] == ["down", "up"]
    assert report.returncode == 0, report.stderr
    (quick,) = json.loads(report.stdout)["tiers"]
    rows = {row["check_id"]: row for row in quick["checks"]}
    assert set(rows) == {"api", "web"}
    assert rows["api"]["runs"] == 2 and rows["web"]["runs"] == 2
    assert status.returncode == 0, status.stderr
    html = page.read_text()
    assert 'data-check="api"' in html and "The web" in html


def test_a_silent_slo_burn_inside_an_open_incident_is_not_listed_twice():
    from datetime import UTC, datetime

    from healthwatch.alerting.slo import SILENT
    from healthwatch.cli.operating import open_incidents
    from healthwatch.models import AlertState

    states = {
        "api": AlertState(
            "api",
            incident_open=True,
            incident_kind="down",
            tier="quick",
            incident_started_at="2026-12-01T10:00:00.000Z",
            recent=[{"error": "timeout: no answer"}],
        ),
        "slo:api": AlertState(
            "slo:api",
            incident_open=True,
            incident_kind=SILENT,
            tier="quick",
            incident_started_at="2026-12-01T10:05:00.000Z",
        ),
        "slo:web": AlertState(
            "slo:web",
            incident_open=True,
            incident_kind="slo_burn",
            tier="quick",
            incident_started_at="2026-12-01T09:00:00.000Z",
        ),
    }
    listed = open_incidents(states, None, datetime(2026, 12, 1, 11, tzinfo=UTC))
    assert [(i.check_id, i.kind, i.reason) for i in listed] == [
        ("web", "slo_burn", "slo burn"),
        ("api", "down", "timeout: no answer"),
    ]
