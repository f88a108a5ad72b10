"""SLO burn-rate alerts: multi-window firing, resolving, delivery failures, overlapping runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from healthwatch.alerting.slo import SloBurnAlerts, burn_rate, state_id
from healthwatch.engine import Ports, run_tier
from healthwatch.errors import DeliveryError, RunError
from healthwatch.models import AlertEvent, Result, TierRun, iso
from healthwatch.runtime.clients import aio_session, http_session
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets
from healthwatch.storage.local import LocalStore

from tests.fakes.server import FakeServer, Response

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)

CONFIG = """
version: 1
slo: {availability: %s}
tiers: {quick: {schedule: rate(15 minutes)}}
checks:
  - {id: api, name: API, tier: quick, url: "%s"}
"""


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.events: list[AlertEvent] = []
        self.fail = False
        self.fail_kinds: set[str] = set()

    def send(self, event: AlertEvent) -> None:
        if self.fail or event.event in self.fail_kinds:
            raise DeliveryError("webhook answered 500")
        self.events.append(event)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def result(at: datetime, status: str = "up") -> Result:
    return Result(
        f"quick-{iso(at)}",
        "quick",
        "api",
        "API",
        "http",
        "http://x/",
        iso(at),
        status,
        100.0,
        error="timeout" if status == "down" else None,
    )  # type: ignore[arg-type]


def stored(store: LocalStore, run: TierRun) -> None:
    """As the engine stores a run: its results, then its history (with the rollup)."""
    store.write_run(run)
    store.put_results(run)


@pytest.fixture
def world(tmp_path):
    store = LocalStore(tmp_path)
    notifier = Recorder()
    clock = Clock(T0)

    def make(availability: float = 99.9) -> SloBurnAlerts:
        return SloBurnAlerts(
            parse_config(CONFIG % (availability, "http://x/")), store, store, notifier, now=clock
        )

    def step(hook: SloBurnAlerts, status: str = "up") -> TierRun:
        clock.at += STEP
        run = TierRun(
            f"quick-{iso(clock.at)}", "quick", iso(clock.at), 1.0, [result(clock.at, status)]
        )
        stored(store, run)
        hook(run)
        return run

    # Six hours of passing runs before the test starts.
    for i in range(24):
        at = T0 - i * STEP
        stored(store, TierRun(f"quick-{iso(at)}", "quick", iso(at), 1.0, [result(at)]))
    return store, notifier, make, step


def test_burn_rate_is_error_ratio_over_budget():
    records = [result(T0, "down")] + [result(T0)] * 3 + [result(T0, "degraded")]
    assert burn_rate(records, 99.9) == pytest.approx(200.0)  # (1/5) / 0.001
    assert burn_rate(records, 80) == pytest.approx(1.0)
    maintained = result(T0, "down")
    maintained.details["maintenance"] = "x"
    assert burn_rate([maintained], 99.9) is None
    assert burn_rate([], 99.9) is None


def test_fires_when_both_windows_burn_and_resolves_when_the_short_one_cools(world):
    store, notifier, make, step = world
    hook = make(99.9)
    # When a run is down: 1 in 5 over 1 h burns 200x, 1 in 25 over 6 h burns 40x; both > 14.4
    run = step(hook, "down")
    assert [e.event for e in run.alerts] == ["slo_burn"]
    event = notifier.events[0]
    assert event.check_id == "api" and event.event == "slo_burn"
    assert event.details["burn_rate_short"] == 200.0 and event.details["burn_rate_long"] == 40.0
    assert "200.0x over 1h" in (event.error or "") and "40.0x over 6h" in (event.error or "")
    assert store.load([state_id("api")])[state_id("api")].incident_open
    # While the failure is inside the short window the incident stays open, silently
    for _ in range(4):
        assert step(hook).alerts == []
    # Then the first run whose short window no longer holds it resolves the incident
    run = step(hook)
    assert [e.event for e in run.alerts] == ["resolved"]
    assert [e.event for e in notifier.events] == ["slo_burn", "resolved"]
    assert notifier.events[1].started_at == event.started_at
    assert notifier.events[1].details["incident"] == "slo_burn"
    assert not store.load([state_id("api")])[state_id("api")].incident_open


def test_a_burst_the_long_window_absorbs_does_not_fire(world):
    _, notifier, make, step = world
    # 99% target: 1 in 5 is 20x over 1 h, but 1 in 25 is only 4x over 6 h.
    run = step(make(99.0), "down")
    assert run.alerts == [] and notifier.events == []


def test_a_failed_delivery_raises_and_is_retried_next_run(world):
    store, notifier, make, step = world
    hook = make(99.9)
    notifier.fail = True
    with pytest.raises(DeliveryError, match="slo_burn alert not delivered"):
        step(hook, "down")
    assert notifier.events == []
    assert store.load([state_id("api")])[state_id("api")].pending_events
    # The next run delivers what the last one could not, and sends it once only.
    notifier.fail = False
    step(hook)
    assert [e.event for e in notifier.events] == ["slo_burn"]
    step(hook)
    assert [e.event for e in notifier.events] == ["slo_burn"]


def test_overlapping_runs_send_one_alert(world):
    store, notifier, make, step = world
    hook = make(99.9)
    other = make(99.9)
    real_save = store.save_many
    calls = {"n": 0}

    def racing_save(states):
        # Another run of the tier saves its decision between our load and our save.
        calls["n"] += 1
        if calls["n"] == 1:
            store.save_many = real_save  # type: ignore[method-assign]
            other(TierRun("other", "quick", iso(T0 + STEP), 1.0, [result(T0 + STEP, "down")]))
        return real_save(states)

    store.save_many = racing_save  # type: ignore[method-assign]
    step(hook, "down")
    assert calls["n"] == 1  # the race happened
    assert [e.event for e in notifier.events] == ["slo_burn"]


@pytest.mark.parametrize("slo_delivery_fails", [False, True])
def test_through_the_engine_with_the_other_alerts(tmp_path, slo_delivery_fails):
    # Given a check that is down, 24 passing runs in its history, and the SLO hook installed
    with FakeServer() as server:
        server.route("GET", "/health", Response(500, {"status": "error"}))
        config = parse_config(
            CONFIG % (99.9, server.url + "/health")
            # Failures too scattered for the check's own incident: the SLO alert's case.
            + "defaults: {retry_interval: 0, failure_threshold: 2}\n"
        )
        store = LocalStore(tmp_path)
        now = datetime.now(UTC)
        for i in range(1, 25):
            at = now - i * STEP
            stored(store, TierRun(f"q{i}", "quick", iso(at), 1.0, [result(at)]))
        notifier = Recorder()
        notifier.fail_kinds = {"slo_burn"} if slo_delivery_fails else set()
        backend = Ports(states=store, results=store, history=store, notifier=notifier)
        backend.after_run.append(SloBurnAlerts(config, store, store, notifier))
        # When the tier runs
        try:
            run = run_tier(
                config,
                "quick",
                backend,
                open_http=aio_session,
                session=http_session(2),
                secrets=Secrets.local(),
            )
            problems: list[str] = []
        except RunError as exc:
            run, problems = exc.run, exc.problems
    # Then the SLO alert goes the same way as the check's alerts, in the run's alerts
    assert [e.event for e in run.alerts] == ["slo_burn"]
    if not slo_delivery_fails:
        assert [e.event for e in notifier.events] == ["slo_burn"]
        assert problems == []
    else:  # And an SLO alert that cannot be delivered is one of the run's problems
        assert notifier.events == []
        assert len(problems) == 1 and "slo_burn alert not delivered" in problems[0]
        assert [e.event for e in run.undelivered] == ["slo_burn"]


def test_an_outage_the_check_already_alerted_does_not_page_twice(tmp_path):
    """Hard down: the check's own incident pages; the SLO incident opens and closes silently."""
    with FakeServer() as server:
        health = {"ok": False}
        server.route(
            "GET",
            "/health",
            lambda req: Response(200 if health["ok"] else 500, {"status": "x"}),
        )
        config = parse_config(
            CONFIG % (99.9, server.url + "/health")
            + "defaults: {retry_interval: 0, failure_threshold: 1}\n"
        )
        store = LocalStore(tmp_path)
        notifier = Recorder()
        backend = Ports(states=store, results=store, history=store, notifier=notifier)
        backend.after_run.append(SloBurnAlerts(config, store, store, notifier))

        def once():
            return run_tier(
                config,
                "quick",
                backend,
                open_http=aio_session,
                session=http_session(2),
                secrets=Secrets.local(),
            )

        once()
        assert store.load([state_id("api")])[state_id("api")].incident_open  # opened, silently
        health["ok"] = True
        once()
    assert [e.event for e in notifier.events] == ["triggered", "resolved"]
    assert notifier.events[1].details.get("incident") != "slo_burn"


def test_a_missing_secret_is_one_config_problem_never_an_slo_burn_or_an_outage(tmp_path):
    """Three runs with the secret missing: one config_problem naming what to set; then the
    secret is set and the check is up, with nothing more said."""
    with FakeServer() as server:
        server.route("GET", "/health", Response(200, {"status": "ok"}))
        text = (CONFIG % (99.9, server.url + "/health")).replace(
            f'url: "{server.url}/health"',
            f'url: "{server.url}/health", headers: {{X-Key: "${{secret:team/api-token}}"}}',
        )
        config = parse_config(text + "defaults: {retry_interval: 0, failure_threshold: 1}\n")
        store, notifier = LocalStore(tmp_path), Recorder()
        ports = Ports(
            states=store,
            results=store,
            history=store,
            notifier=notifier,
            slo=SloBurnAlerts(config, store, store),
        )

        def once(env):
            try:
                return run_tier(
                    config,
                    "quick",
                    ports,
                    open_http=aio_session,
                    session=http_session(2),
                    secrets=Secrets.local(env),
                )
            except RunError as exc:
                return exc.run

        for _ in range(3):
            once({})
        once({"HW_SECRET_TEAM_API_TOKEN": "token-value-123"})
    kinds = [e.event for e in notifier.events]
    assert kinds == ["config_problem"]
    (problem,) = notifier.events
    assert "HW_SECRET_TEAM_API_TOKEN" in problem.reason and "team/api-token" in problem.reason
    assert store.load(["api"])["api"].config_problem is None  # fixed, and cleared
