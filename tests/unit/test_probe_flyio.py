"""The `flyio` probe against a fake Machines API: states, checks, errors, restarts."""

from __future__ import annotations

import json
import secrets
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import yaml
from healthwatch.errors import ConfigError, ProbeError
from healthwatch.probes import Observation, ProbeContext, flyio
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets

from tests.fakes.flyio import UNAUTHORIZED, FakeFly
from tests.fakes.server import FakeServer, Response
from tests.helpers import call_probe

APP = "hotdash-agent-service"
SECRET_VAR = "HW_SECRET_HOTDASH_FLY_API_TOKEN"


def make_check(fly: FakeFly | None, **options: Any) -> Any:
    check = {
        "id": "fly-agent",
        "tier": "comprehensive",
        "type": "flyio",
        "app": APP,
        "token": "${secret:hotdash/fly-api-token}",
        **({"base_url": fly.url} if fly else {}),
        **options,
    }
    doc = {"tiers": {"comprehensive": {"schedule": "rate(6 hours)"}}, "checks": [check]}
    return parse_config(yaml.safe_dump(doc)).checks[0]


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)  # Fly stamps: seconds

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_ctx(
    token: str, clock: Clock | None = None, memory: dict[str, Any] | None = None
) -> ProbeContext:
    return ProbeContext(
        session=requests.Session(),
        secrets=Secrets.local({SECRET_VAR: token}),
        timeout=5,
        now=clock or Clock(),
        memory={} if memory is None else memory,
    )


@pytest.fixture
def token() -> str:
    return "fo1_" + secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def server():
    with FakeServer() as running:
        yield running


@pytest.fixture
def fly(token: str, server: FakeServer):
    with FakeFly(token=token, server=server) as fake:
        fake.add_app(APP)
        yield fake


def run(fly: FakeFly, token: str, clock: Clock | None = None, **options: Any) -> Observation:
    return call_probe(flyio, make_check(fly, **options), make_ctx(token, clock))


# -- verdicts ------------------------------------------------------------------------------


def test_started_machines_with_passing_checks_are_up(fly: FakeFly, token: str) -> None:
    # Given two started machines whose checks pass
    a = fly.add_machine(APP, region="ord", checks={"servicecheck-00-http-8080": "passing"})
    fly.add_machine(APP, region="iad", checks={"servicecheck-00-http-8080": "passing"})

    # When the app is probed
    obs = run(fly, token)

    # Then it is up, and the details list each machine with its checks
    assert obs.verdict == "up" and obs.error is None
    assert obs.http_status == 200 and obs.latency_ms is not None
    assert obs.details["summary"] == "2 machines started, checks passing"
    first = obs.details["machines"][0]
    assert first["id"] == a["id"] and first["region"] == "ord" and first["state"] == "started"
    assert first["checks"][0] == {
        "name": "servicecheck-00-http-8080",
        "status": "passing",
        "output": "Success",
        "updated_at": a["checks"][0]["updated_at"],
    }
    assert obs.details["counts"] == {"started": 2}
    # The request carried the token as a bearer token, to the real path
    req = fly.requests[0]
    assert req.path == f"/v1/apps/{APP}/machines"
    assert req.header("Authorization") == f"Bearer {token}"
    # [BODY] conditions can reach the details
    assert json.loads(obs.body or b"")["machines"][1]["region"] == "iad"


@pytest.mark.parametrize(
    ("machines", "verdict", "summary_has"),
    [
        # a warning check: degraded
        ([{"checks": {"servicecheck-00-http-8080": "warning"}}], "degraded", "checks warning"),
        # a critical check: down, with the check's output
        (
            [{"checks": {"servicecheck-00-http-8080": "critical"}}, {"checks": {"hc": "passing"}}],
            "down",
            "checks critical: servicecheck-00-http-8080 (Get",
        ),
        # scale to zero: every machine stopped or suspended with autostart on
        (
            [{"state": "stopped"}, {"state": "suspended"}],
            "degraded",
            "scaled to zero: 2 machine(s) stopped/suspended, autostart on",
        ),
        # one serving, one idle with autostart: normal autoscaling headroom
        ([{"checks": {"hc": "passing"}}, {"state": "stopped"}], "up", "1 idle with autostart"),
        # stopped with autostart off while another serves: degraded
        ([{}, {"state": "stopped", "autostart": False}], "degraded", "autostart off"),
        # nothing can take traffic: down
        ([{"state": "stopped", "autostart": False}], "down", "no machine can take traffic"),
        ([{"state": "failed"}], "down", "failed"),
        ([{"state": "launch_failed"}, {}], "down", "launch_failed"),
        # no checks configured: a started machine is enough
        ([{}], "up", "1 machine started"),
        # a machine on an unreachable host
        ([{"host_status": "unreachable"}, {}], "degraded", "host unreachable"),
    ],
)
def test_machine_states_and_checks_decide_the_verdict(
    fly: FakeFly, token: str, machines: list[dict[str, Any]], verdict: str, summary_has: str
) -> None:
    for spec in machines:
        fly.add_machine(APP, **spec)
    obs = run(fly, token)
    assert obs.verdict == verdict, obs.details["summary"]
    assert summary_has in obs.details["summary"]


def test_an_app_without_machines_is_down(fly: FakeFly, token: str) -> None:
    obs = run(fly, token)
    assert obs.verdict == "down"
    assert obs.details["summary"] == "no machines"
    assert obs.details["machines"] == []


def test_scale_to_zero_counts_as_up_with_ignore_stopped(fly: FakeFly, token: str) -> None:
    fly.add_machine(APP, state="stopped")
    fly.add_machine(APP, state="suspended", autostop="suspend")
    obs = run(fly, token, ignore_stopped=True)
    assert obs.verdict == "up"
    assert [m["autostop"] for m in obs.details["machines"]] == ["stop", "suspend"]


def test_a_transient_state_is_degraded_until_it_is_stuck(fly: FakeFly, token: str) -> None:
    clock = Clock()
    fly.add_machine(APP, checks={"hc": "passing"})
    m = fly.add_machine(APP, state="replacing", updated_at=clock.now - timedelta(minutes=2))

    obs = run(fly, token, clock)
    assert obs.verdict == "degraded"
    assert f"machine {m['id']} (ord): replacing (for 2m)" in obs.details["summary"]

    # Given the same state 12 minutes later (threshold 10m): stuck, down
    clock.advance(minutes=10)
    obs = run(fly, token, clock)
    assert obs.verdict == "down"
    assert "stuck replacing for 12m" in obs.details["summary"]

    # And a longer threshold tolerates it
    assert run(fly, token, clock, transient_threshold="15m").verdict == "degraded"


def test_standby_machines_and_platform_machines_do_not_count(fly: FakeFly, token: str) -> None:
    primary = fly.add_machine(APP, checks={"hc": "passing"})
    fly.add_machine(APP, state="stopped", autostart=False, standbys=[primary["id"]])
    fly.add_machine(APP, state="stopped", autostart=False, process_group="fly_app_release_command")
    fly.add_machine(APP, state="destroyed")
    obs = run(fly, token)
    assert obs.verdict == "up"
    assert len(obs.details["machines"]) == 2
    assert "standby for" in obs.details["machines"][1]["reason"]


def test_region_and_process_group_narrow_the_machines(fly: FakeFly, token: str) -> None:
    fly.add_machine(APP, region="ord", checks={"hc": "passing"})
    fly.add_machine(APP, region="ams", checks={"hc": "critical"})
    fly.add_machine(APP, region="ord", process_group="worker", state="failed")

    obs = run(fly, token, region="ord", process_group="app")
    assert obs.verdict == "up"
    assert fly.requests[-1].query == {"region": ["ord"]}

    obs = run(fly, token, region="syd")
    assert obs.verdict == "down" and obs.details["summary"] == "no machines in region syd"


def test_target_never_shows_the_token() -> None:
    check = make_check(None)
    assert check.target == f"fly://{APP}"


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="restart_afterr: unknown key"):
        make_check(None, restart_afterr=3)
    with pytest.raises(ConfigError, match="invalid duration"):
        make_check(None, transient_threshold="ten minutes")
    with pytest.raises(ConfigError, match="restart_after"):
        make_check(None, restart_after=0)
    check = make_check(None, base_url="https://api.machines.dev/v1/")
    assert check.options.base_url == "https://api.machines.dev"


# -- errors --------------------------------------------------------------------------------


def test_a_wrong_token_is_a_clear_auth_error(fly: FakeFly, token: str) -> None:
    wrong = "fo1_" + secrets.token_urlsafe(24)
    with pytest.raises(ProbeError) as info:
        run(fly, wrong)
    assert info.value.kind == "auth"
    assert "rejected (401)" in info.value.message and "Fly: unauthorized" in info.value.message
    assert wrong not in str(info.value) and token not in str(info.value)


def test_an_unknown_app_is_not_found(fly: FakeFly, token: str) -> None:
    with pytest.raises(ProbeError) as info:
        run(fly, token, app="no-such-app")
    assert info.value.kind == "not_found"
    assert (
        info.value.message == "no Fly app 'no-such-app' for this token (404) (Fly: app not found)"
    )


def test_rate_limiting_says_when_to_retry(fly: FakeFly, token: str) -> None:
    fly.rate_limit(retry_after=7)
    with pytest.raises(ProbeError) as info:
        run(fly, token)
    assert info.value.kind == "rate_limited"
    assert "retry after 7s" in info.value.message


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (
            503,
            {"error": "service temporarily unavailable"},
            "http_error",
            "the Fly Machines API answered 503 (Fly: service temporarily unavailable)",
        ),
        (500, "<html>oops</html>", "http_error", "the Fly Machines API answered 500"),
        (403, {"error": "unauthorized"}, "auth", "may not access app"),
        (200, "not json", "invalid_json", "not JSON"),
        (200, {"machines": []}, "invalid_json", "expected a list of machines"),
    ],
)
def test_vendor_errors_become_short_classes(
    fly: FakeFly, token: str, status: int, body: Any, kind: str, message: str
) -> None:
    fly.queue(status, body)
    with pytest.raises(ProbeError) as info:
        run(fly, token)
    assert info.value.kind == kind
    assert message in info.value.message


def test_an_unreachable_api_is_a_connection_error(token: str) -> None:
    with socket.socket() as sock:  # a port that was just free
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    check = make_check(None, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ProbeError) as info:
        call_probe(flyio, check, make_ctx(token))
    assert info.value.kind == "connection_refused"
    assert "Fly Machines API" in info.value.message


def test_a_macaroon_token_is_sent_with_its_own_scheme(server: FakeServer) -> None:
    token = "FlyV1 fm2_" + secrets.token_urlsafe(40) + ",fo1_" + secrets.token_urlsafe(20)
    with FakeFly(token=token, server=server) as fake:
        fake.add_machine(APP, checks={"hc": "passing"})
        obs = run(fake, token)
        assert fake.requests[0].header("Authorization") == token
    assert obs.verdict == "up"


def test_the_token_appears_nowhere(token: str, server: FakeServer) -> None:
    # Given a fake that echoes the token it was sent in its 401 body
    with FakeFly(token="the-right-one", echo_token_in_errors=True, server=server) as fake:
        fake.add_machine(APP, checks={"hc": "critical"})
        # When probed with a planted token
        with pytest.raises(ProbeError) as info:
            run(fake, token)
    # Then the error names the problem, not the token
    assert token not in repr(info.value) and "***" in info.value.message

    # And on success, a restart included, the observation never carries it either
    with FakeFly(token=token, server=server) as fake:
        fake.add_machine(APP, checks={"hc": "critical"})
        obs = run(fake, token, restart_after=1)
    assert obs.actions and obs.actions[0]["ok"] is True
    assert token not in repr(obs)


# -- remediation ---------------------------------------------------------------------------


def test_a_machine_critical_for_n_runs_is_restarted_once_per_cooldown(
    fly: FakeFly, token: str
) -> None:
    clock = Clock()
    memory: dict[str, Any] = {}
    sick = fly.add_machine(APP, checks={"servicecheck-00-http-8080": "critical"})
    fly.add_machine(APP, checks={"servicecheck-00-http-8080": "passing"})
    check = make_check(fly, restart_after=3, restart_cooldown="1h")

    def probe_run() -> Observation:
        return call_probe(flyio, check, make_ctx(token, clock, memory))

    # Runs 1 and 2: critical, counted, no restart; a retry within a run does not count
    for _ in range(2):
        obs = probe_run()
        clock.advance(seconds=10)
        probe_run()  # the engine's retry, 10 s later: the same run
        clock.advance(minutes=15)
        assert obs.verdict == "down" and not obs.actions
    assert memory["machines"][sick["id"]]["critical_runs"] == 2
    assert fly.restarts == []

    # Run 3: restarted, recorded in actions, details and memory
    obs = probe_run()
    assert fly.restarts == [(APP, sick["id"])]
    action = obs.actions[0]
    assert action["action"] == "restart" and action["ok"] is True
    assert action["machine_id"] == sick["id"] and action["http_status"] == 200
    assert action["reason"] == "checks critical for 3 runs: servicecheck-00-http-8080"
    assert obs.details["machines"][0]["last_restart_at"] == action["at"]
    assert f"restarted machine {sick['id']}" in obs.details["summary"]
    assert memory["machines"][sick["id"]]["critical_runs"] == 0
    restart_path = f"/v1/apps/{APP}/machines/{sick['id']}/restart"
    assert fly.server.requests_to(restart_path)[0].method == "POST"

    # Runs 4-6 (45 minutes): critical again for 3 runs, but within the cooldown
    for _ in range(3):
        clock.advance(minutes=15)
        obs = probe_run()
        assert not obs.actions
    assert len(fly.restarts) == 1
    assert obs.details["machines"][0]["critical_runs"] == 3

    # Run 7, an hour after the restart: restarted again
    clock.advance(minutes=15)
    obs = probe_run()
    assert len(fly.restarts) == 2 and obs.actions[0]["ok"] is True


def test_a_recovered_machine_starts_counting_again(fly: FakeFly, token: str) -> None:
    clock = Clock()
    memory: dict[str, Any] = {}
    m = fly.add_machine(APP, checks={"hc": "critical"})
    check = make_check(fly, restart_after=2)

    call_probe(flyio, check, make_ctx(token, clock, memory))
    clock.advance(hours=6)
    fly.set_checks(APP, m["id"], hc="passing")
    assert call_probe(flyio, check, make_ctx(token, clock, memory)).verdict == "up"
    assert memory["machines"] == {}
    clock.advance(hours=6)
    fly.set_checks(APP, m["id"], hc="critical")
    obs = call_probe(flyio, check, make_ctx(token, clock, memory))
    assert not obs.actions and memory["machines"][m["id"]]["critical_runs"] == 1


def test_a_failed_restart_is_recorded_and_waits_for_the_cooldown(fly: FakeFly, token: str) -> None:
    clock = Clock()
    memory: dict[str, Any] = {}
    fly.add_machine(APP, checks={"hc": "critical"})
    check = make_check(fly, restart_after=1)
    # Given a read-only token: Fly refuses the restart
    fly.restart_error = Response(401, UNAUTHORIZED)

    obs = call_probe(flyio, check, make_ctx(token, clock, memory))

    # Then the attempt is recorded with its error, and the check is still down
    action = obs.actions[0]
    assert obs.verdict == "down"
    assert action["ok"] is False and fly.restarts == []
    assert action["error"].startswith("auth: the Fly API token was rejected (401)")
    assert "failed (auth:" in obs.details["summary"]
    # And the failed attempt starts the cooldown: no retry every run
    clock.advance(minutes=15)
    assert not call_probe(flyio, check, make_ctx(token, clock, memory)).actions


def test_no_memory_is_kept_without_remediation(fly: FakeFly, token: str) -> None:
    fly.add_machine(APP, checks={"hc": "critical"})
    ctx = make_ctx(token)
    obs = call_probe(flyio, make_check(fly), ctx)
    assert ctx.memory == {} and not obs.actions
    assert "critical_runs" not in obs.details["machines"][0]


def test_a_critical_machine_is_named_in_the_result_and_its_alert_with_the_fly_commands(
    fly: FakeFly, token: str, tmp_path: Any
) -> None:
    from healthwatch.alerting import apply
    from healthwatch.engine.verdict import judge
    from healthwatch.models import AlertState, utcnow

    bad = fly.add_machine(APP, region="ams", checks={"servicecheck-00-http-8787": "critical"})
    check = make_check(fly, failure_threshold=1)
    obs = run(fly, token)
    result = judge(check, "comprehensive-r", "comprehensive", "2026-11-26T20:45:00.000Z", obs, 1)
    assert result.status == "down"
    assert bad["id"] in (result.error or "") and "servicecheck-00-http-8787" in (result.error or "")
    _, (event,) = apply(AlertState(check.id), result, check, utcnow())
    assert bad["id"] in event.reason
    assert event.action == (
        f"fly status -a {APP}; then fly logs -a {APP} --machine {bad['id']}; "
        f"then fly machine restart {bad['id']} -a {APP}"
    )


def test_restarts_count_runs_by_run_id_and_are_announced_once(
    fly: FakeFly, token: str, tmp_path: Any
) -> None:
    """Three runs seconds apart with restart_after 2: the restart happens at run 2, once,
    and goes out as one `remediated` event through the dispatcher."""
    from healthwatch.engine import Ports, run_tier
    from healthwatch.runtime.clients import aio_session, http_session
    from healthwatch.runtime.config_source import parse_config as parse
    from healthwatch.secrets import Secrets
    from healthwatch.storage.local import LocalStore

    from tests.helpers import RecordingNotifier

    bad = fly.add_machine(APP, checks={"hc": "critical"})
    doc = {
        "defaults": {"retry_interval": "10ms", "failure_threshold": 1, "reminder_interval": 0},
        "tiers": {"comprehensive": {"schedule": "rate(6 hours)"}},
        "checks": [
            {
                "id": "fly",
                "tier": "comprehensive",
                "type": "flyio",
                "app": APP,
                "token": "${env:FLY_TOKEN}",
                "base_url": fly.url,
                "restart_after": 2,
            }
        ],
    }
    config = parse(yaml.safe_dump(doc))
    store, notifier = LocalStore(tmp_path), RecordingNotifier()
    restarted_at = []
    for run_number in (1, 2, 3):
        run = run_tier(
            config,
            "comprehensive",
            Ports(states=store, notifier=notifier),
            open_http=aio_session,
            session=http_session(2),
            secrets=Secrets.local({"FLY_TOKEN": token}),
        )
        if run.results[0].details.get("actions"):
            restarted_at.append(run_number)
    assert restarted_at == [2]
    remediated = [e for e in notifier.events if e.event == "remediated"]
    assert len(remediated) == 1 and bad["id"] in remediated[0].reason
    assert "done" in remediated[0].reason or "failed" in remediated[0].reason
