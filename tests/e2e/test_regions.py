"""Multi-region quorum through the real command: the home is this machine, and every other
region is a probe function behind a local server speaking Lambda's Invoke API.

Each region sees the network its own way: a region given `HTTP_PROXY` to a port nobody
listens on cannot reach the target; one that answers late, not at all, or with a function
error is `unavailable`, never a vote for `down`.
"""

from __future__ import annotations

import json
import socket
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.fakes.lambda_api import PROBE_HANDLER, Function, LambdaApi
from tests.fakes.server import FakeServer, Response
from tests.helpers import healthwatch

REGIONS = ["home-1", "eu-west-1", "ap-southeast-1"]
SIGNING = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def dead_port() -> int:
    """A loopback port nobody listens on: a proxy there refuses every connection."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cut_off() -> dict[str, str]:
    """A network that cannot reach the target (on `localhost`); Lambda (on 127.0.0.1) it can."""
    return {"HTTP_PROXY": f"http://127.0.0.1:{dead_port()}", "NO_PROXY": "127.0.0.1"}


class World:
    """The target, the two remote regions' Invoke servers, and the home's command."""

    def __init__(self, tmp: Path, stack: ExitStack, remote: dict[str, Function]) -> None:
        self.target = stack.enter_context(FakeServer())
        self.target.route("GET", "/health", Response(200, {"status": "ok"}))
        self.config = tmp / "checks.yaml"
        self.data = tmp / "data"
        self.apis = {}
        for name, fn in remote.items():
            fn.env = {"CHECKS_CONFIG": str(self.config), **SIGNING, **fn.env}
            self.apis[name] = stack.enter_context(LambdaApi({"healthwatch-probe": fn}, name))
        port = self.target.url.rsplit(":", 1)[1]
        doc = {
            "defaults": {"failure_threshold": 1, "retry_interval": 0, "timeout": "2s"},
            "tiers": {"quick": {"schedule": "rate(15 minutes)", "deadline": "6s"}},
            "regions": [REGIONS[0]]
            + [{"name": n, "endpoint_url": api.url} for n, api in self.apis.items()],
            "quorum": 2,
            "checks": [{"id": "api", "tier": "quick", "url": f"http://localhost:{port}/health"}],
        }
        self.config.write_text(json.dumps(doc))

    def run(self, home_env: dict[str, str] | None = None) -> dict:
        proc = healthwatch(
            self.config, self.data, "run", "--json", env={**SIGNING, **(home_env or {})}
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        doc = json.loads(proc.stdout)
        doc["exit"] = proc.returncode
        return doc

    def alerts(self) -> list[dict]:
        path = self.data / "alerts.jsonl"
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def world(tmp_path: Path, stack: ExitStack, **remote: Function) -> World:
    names = {"eu": "eu-west-1", "ap": "ap-southeast-1"}
    return World(tmp_path, stack, {names[k]: v for k, v in remote.items()})


def probe(**kw) -> Function:
    return Function(PROBE_HANDLER, **kw)


def only(doc: dict) -> dict:
    [result] = doc["results"]
    return result


def statuses(result: dict) -> dict[str, str]:
    return {name: view["status"] for name, view in result["details"]["regions"].items()}


def test_every_region_up_records_each_regions_view(tmp_path):
    with ExitStack() as stack:
        w = world(tmp_path, stack, eu=probe(), ap=probe())
        doc = w.run()
    result = only(doc)
    assert result["status"] == "up" and doc["exit"] == 0
    assert statuses(result) == dict.fromkeys(REGIONS, "up")
    for view in result["details"]["regions"].values():
        assert view["latency_ms"] > 0 and view["error"] is None
    # Each remote region was asked for exactly this check, with the home's run id
    for api in w.apis.values():
        [call] = api.invocations
        assert call.kind == "RequestResponse"
        assert call.event["check_ids"] == ["api"] and call.event["run_id"] == doc["run_id"]


def test_down_from_one_region_is_degraded_naming_it_and_pages_nobody(tmp_path):
    with ExitStack() as stack:
        w = world(tmp_path, stack, eu=probe(env=cut_off()), ap=probe())
        result = only(w.run())
    assert result["status"] == "degraded"
    assert statuses(result) == {"home-1": "up", "eu-west-1": "down", "ap-southeast-1": "up"}
    assert "eu-west-1" in result["error"] and "home-1" not in result["error"]
    assert w.alerts() == []


def test_down_from_two_regions_is_down_with_exactly_one_alert(tmp_path):
    with ExitStack() as stack:
        w = world(tmp_path, stack, eu=probe(env=cut_off()), ap=probe())
        doc = w.run(home_env=cut_off())
        result = only(doc)
        again = only(w.run(home_env=cut_off()))  # still down: no second page
    assert result["status"] == "down" and doc["exit"] == 1
    assert statuses(result) == {"home-1": "down", "eu-west-1": "down", "ap-southeast-1": "up"}
    assert result["error"].startswith("down from home-1, eu-west-1:")
    assert again["status"] == "down"
    alerts = w.alerts()
    assert [(a["event"], a["check_id"]) for a in alerts] == [("triggered", "api")]
    assert "home-1, eu-west-1" in alerts[0]["error"]


def test_down_from_every_region_is_down(tmp_path):
    with ExitStack() as stack:
        w = world(tmp_path, stack, eu=probe(env=cut_off()), ap=probe(env=cut_off()))
        result = only(w.run(home_env=cut_off()))
    assert result["status"] == "down"
    assert statuses(result) == dict.fromkeys(REGIONS, "down")
    assert len(w.alerts()) == 1


def test_a_silent_region_is_unavailable_and_never_a_down_vote(tmp_path):
    # eu cannot reach the target; ap never answers: one down vote of the two needed
    with ExitStack() as stack:
        w = world(tmp_path, stack, eu=probe(env=cut_off()), ap=probe(hang=True))
        doc = w.run()
    result = only(doc)
    assert result["status"] == "degraded"
    assert statuses(result) == {
        "home-1": "up",
        "eu-west-1": "down",
        "ap-southeast-1": "unavailable",
    }
    assert result["details"]["regions"]["ap-southeast-1"]["latency_ms"] is None
    assert w.alerts() == []
    # The home waited no longer than the tier's deadline (6 s) for the silent region
    assert doc["duration_ms"] < 6000 + 2000


@pytest.mark.parametrize(
    "misbehaviour",
    [
        {"fail": "Task timed out after 3.00 seconds"},
        {"throttle": True},
        {"delay_s": 30.0},
    ],
    ids=["function-error", "throttled", "slower-than-the-deadline"],
)
def test_a_region_that_cannot_answer_is_unavailable(tmp_path, misbehaviour):
    # Home and eu both see it down; ap's answer is an error, a throttle or too late
    with ExitStack() as stack:
        w = world(tmp_path, stack, eu=probe(env=cut_off()), ap=probe(**misbehaviour))
        result = only(w.run(home_env=cut_off()))
    assert statuses(result)["ap-southeast-1"] == "unavailable"
    assert result["details"]["regions"]["ap-southeast-1"]["error"]
    # two real down votes still make the quorum
    assert result["status"] == "down"
    assert len(w.alerts()) == 1


def test_a_function_error_and_a_down_are_degraded_not_down(tmp_path):
    with ExitStack() as stack:
        w = world(tmp_path, stack, eu=probe(env=cut_off()), ap=probe(fail="boom"))
        result = only(w.run())
    assert result["status"] == "degraded"
    assert "boom" in result["details"]["regions"]["ap-southeast-1"]["error"]
    assert w.alerts() == []


def test_a_region_without_endpoint_is_skipped_locally_with_a_warning(tmp_path):
    with FakeServer() as target:
        target.route("GET", "/health", Response(200, {"status": "ok"}))
        config = tmp_path / "checks.yaml"
        doc = {
            "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
            "regions": ["home-1", "eu-west-1"],
            "checks": [{"id": "api", "tier": "quick", "url": f"{target.url}/health"}],
        }
        config.write_text(json.dumps(doc))
        proc = healthwatch(config, tmp_path / "data", "run", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "eu-west-1" in proc.stderr and "endpoint_url" in proc.stderr
    result = only(json.loads(proc.stdout))
    assert result["status"] == "up"
    assert statuses(result) == {"home-1": "up"}
