"""The engine: checks in parallel, the tier deadline, probes that raise, retries, the session."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from healthwatch import probes
from healthwatch.config import Check, Config
from healthwatch.config.schema import DEFAULT_CONCURRENCY
from healthwatch.engine import Ports, run_tier
from healthwatch.models import AlertState, TierRun
from healthwatch.probes import Observation, ProbeContext
from healthwatch.probes import http as http_probe
from healthwatch.runtime.clients import aio_session, http_session
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets
from healthwatch.storage.local import LocalStore

from tests.fakes import raw
from tests.fakes.gates import InFlight
from tests.fakes.server import FakeServer, Request, Response

SLOW = 0.3  # seconds a /slow/... endpoint takes to answer
BRIEF = 0.1  # and a /brief/... one


def _delayed(req: Request) -> Response:
    return Response(200, "ok", delay=BRIEF if req.path.startswith("/brief/") else SLOW)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(fallback=_delayed) as fake:
        fake.route("GET", "/fast", Response(200, "ok"))
        yield fake


def make_config(
    checks: list[dict[str, Any]], deadline: str | None = None, **defaults: Any
) -> Config:
    tier: dict[str, Any] = {"schedule": "rate(15 minutes)"}
    if deadline is not None:
        tier["deadline"] = deadline
    document = {
        "defaults": {"retry_interval": 0, **defaults},
        "tiers": {"quick": tier},
        "checks": [{"tier": "quick", "type": "http", **c} for c in checks],
    }
    return parse_config(yaml.safe_dump(document))


def run(
    config: Config,
    tmp_path: Path,
    *,
    workers: int = DEFAULT_CONCURRENCY,
    sleep: Any = None,
    store: LocalStore | None = None,
    on_result: Any = None,
) -> TierRun:
    session = http_session(workers)
    try:
        return run_tier(
            config,
            "quick",
            Ports(states=store or LocalStore(tmp_path)),
            session=session,
            open_http=aio_session,
            secrets=Secrets.local({}),
            sleep=sleep,
            concurrency=workers,
            on_result=on_result,
        )
    finally:
        session.close()


def slow_checks(server: FakeServer, n: int, kind: str = "slow") -> list[dict[str, Any]]:
    return [{"id": f"{kind}-{i}", "url": f"{server.url}/{kind}/{i}"} for i in range(n)]


# ---------------------------------------------------------------------- parallelism


def gated_checks(server: FakeServer, name: str, gate: InFlight) -> list[dict[str, Any]]:
    server.route("GET", f"/{name}", gate)
    # A check timeout well past the gate's patience: a held request is never cut short.
    return [
        {"id": f"{name}-{i}", "url": f"{server.url}/{name}?i={i}", "timeout": "30s"}
        for i in range(gate.total)
    ]


@pytest.mark.parametrize("workers", [8, DEFAULT_CONCURRENCY])
def test_checks_run_in_parallel(server: FakeServer, tmp_path: Path, workers: int) -> None:
    # Given 8 checks whose target holds every request until 8 are in flight at once
    gate = InFlight(peak=8, total=8)
    config = make_config(gated_checks(server, f"parallel-{workers}", gate))

    # When the tier runs with at least 8 workers
    result = run(config, tmp_path, workers=workers)

    # Then all 8 were in flight together and every check is up
    assert gate.most == 8
    assert gate.arrived == 8
    assert [r.status for r in result.results] == ["up"] * 8


def test_worker_count_bounds_the_parallelism(server: FakeServer, tmp_path: Path) -> None:
    # Given 4 checks whose target holds every request until 2 are in flight, and 2 workers
    gate = InFlight(peak=2, total=4)
    config = make_config(gated_checks(server, "two-workers", gate))

    result = run(config, tmp_path, workers=2)

    # Then they ran two at a time, never three, and every check is up
    assert gate.most == 2
    assert gate.arrived == 4
    assert [r.status for r in result.results] == ["up"] * 4


def test_results_keep_the_config_order(server: FakeServer, tmp_path: Path) -> None:
    checks = [
        {"id": "slowest", "url": f"{server.url}/brief/a"},
        {"id": "fastest", "url": f"{server.url}/fast"},
        {"id": "middle", "url": f"{server.url}/brief/b"},
    ]

    result = run(make_config(checks), tmp_path)

    assert [r.check_id for r in result.results] == ["slowest", "fastest", "middle"]


# ---------------------------------------------------------------------- the tier deadline


def test_a_check_hanging_past_the_deadline_is_down_with_timeout(
    server: FakeServer, tmp_path: Path
) -> None:
    # Given a 1 s tier deadline and a target that answers only when the test releases it,
    # with a check timeout (60 s) longer than the target's own 30 s limit on holding
    release = threading.Event()
    with raw.RawServer(raw.answer_when_released(release, within=30)) as held:
        checks = [
            {"id": "hangs", "url": f"{held.url}/health", "timeout": "60s"},
            {"id": "fast", "url": f"{server.url}/fast"},
            {"id": "brief", "url": f"{server.url}/brief/x"},
        ]
        config = make_config(checks, deadline="1s")

        # When the tier runs
        try:
            result = run(config, tmp_path)
        finally:
            release.set()

    # Then run_tier returned while the target was still holding the request (it is only
    # released above), so the hung check is down with a timeout; the others completed.
    # Were the deadline not enforced, the run would have ended with a 200 after 30 s.
    by_id = {r.check_id: r for r in result.results}
    assert by_id["hangs"].status == "down"
    assert (by_id["hangs"].error or "").startswith("timeout"), by_id["hangs"].error
    assert by_id["fast"].status == "up"
    assert by_id["brief"].status == "up"


@dataclass
class Blocker:
    release: threading.Event = field(default_factory=threading.Event)
    returned: threading.Event = field(default_factory=threading.Event)  # the probe is done


@pytest.fixture
def blocking_probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[Blocker]:
    """`http` checks whose URL contains /block return "up" only once the test has ended.

    (Or after 30 s, so that a run that waits for them fails by its result, never hangs.)
    """
    blocker = Blocker()
    real_get = probes.get

    async def probe(check: Check, ctx: ProbeContext) -> Observation:
        if "/block" in check.options.url:
            for _ in range(3000):  # on the loop, as an async probe would hang on a socket
                if blocker.release.is_set():
                    break
                await asyncio.sleep(0.01)
            blocker.returned.set()
            return Observation(latency_ms=30_000.0, http_status=200)
        return await http_probe.probe(check, ctx)

    fake = SimpleNamespace(Options=http_probe.Options, target=http_probe.target, probe=probe)
    monkeypatch.setattr(probes, "get", lambda t: fake if t == "http" else real_get(t))
    try:
        yield blocker
    finally:
        blocker.release.set()


def test_a_check_still_running_at_the_deadline_is_recorded_not_lost(
    server: FakeServer, tmp_path: Path, blocking_probe: Blocker
) -> None:
    # Given a probe that ignores its own timeout entirely
    checks = [
        {"id": "stuck", "url": f"{server.url}/block"},
        {"id": "fine", "url": f"{server.url}/fast"},
    ]
    config = make_config(checks, deadline="500ms")

    result = run(config, tmp_path)

    # Then the run ended at the deadline without it: the probe has still not returned
    assert not blocking_probe.returned.is_set()
    stuck, fine = result.results
    assert stuck.check_id == "stuck"
    assert stuck.status == "down"
    assert stuck.error == "timeout: still running at the tier deadline"
    assert fine.status == "up"


def test_queued_checks_beyond_the_deadline_are_recorded_too(
    server: FakeServer, tmp_path: Path, blocking_probe: Blocker
) -> None:
    # Given one worker busy with a stuck check, so the next never starts
    checks = [
        {"id": "stuck", "url": f"{server.url}/block"},
        {"id": "never-started", "url": f"{server.url}/fast"},
    ]
    result = run(make_config(checks, deadline="500ms"), tmp_path, workers=1)

    assert [(r.check_id, r.status) for r in result.results] == [
        ("stuck", "down"),
        ("never-started", "down"),
    ]
    assert all((r.error or "").startswith("timeout") for r in result.results)
    assert not blocking_probe.returned.is_set()


def test_timeout_zero_means_no_check_timeout_only_the_deadline(
    server: FakeServer, tmp_path: Path
) -> None:
    # "0 disables what it times": a 300 ms answer must not be cut short
    config = make_config([{"id": "untimed", "url": f"{server.url}/brief/t", "timeout": 0}])

    (result,) = run(config, tmp_path).results

    assert result.status == "up", result.error
    assert (result.latency_ms or 0) >= BRIEF * 1000


# ---------------------------------------------------------------------- probes that raise


@pytest.mark.parametrize(
    "behaviour",
    ["raises", "returns-garbage"],
)
def test_a_probe_that_raises_is_down_and_the_others_still_run(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    real_get = probes.get

    async def probe(check: Check, ctx: ProbeContext) -> Any:
        if "/broken" in check.options.url:
            if behaviour == "raises":
                raise ZeroDivisionError("a bug in a probe")
            return None  # not an Observation: also a bug
        return await http_probe.probe(check, ctx)

    fake = SimpleNamespace(Options=http_probe.Options, target=http_probe.target, probe=probe)
    checks = [
        {"id": "first", "url": f"{server.url}/fast"},
        {"id": "broken", "url": f"{server.url}/broken"},
        {"id": "last", "url": f"{server.url}/brief/z"},
    ]
    config = make_config(checks)
    monkeypatch.setattr(probes, "get", lambda t: fake if t == "http" else real_get(t))

    result = run(config, tmp_path)

    first, broken, last = result.results
    assert broken.status == "down"
    assert (broken.error or "").startswith("probe_error"), broken.error
    assert first.status == "up" and last.status == "up"


def test_an_unresolvable_secret_is_down_with_the_reference_named(
    server: FakeServer, tmp_path: Path
) -> None:
    checks: list[dict[str, Any]] = [
        {"id": "needs-secret", "url": f"{server.url}/fast", "headers": {"X-Key": "${env:NOPE}"}},
        {"id": "plain", "url": f"{server.url}/fast"},
    ]

    result = run(make_config(checks), tmp_path)

    needs, plain = result.results
    assert needs.status == "down"
    assert needs.error == "secret: environment variable NOPE is not set"
    assert plain.status == "up"


# ---------------------------------------------------------------------- retries in a run


class Flaky:
    """Answers 503 `failures` times, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, req: Request) -> Response:
        with self.lock:
            self.calls += 1
            return Response(503 if self.calls <= self.failures else 200, "x")


@pytest.mark.parametrize(
    ("failures", "prior_failures", "incident_open", "status", "attempts", "waits"),
    [
        # Fresh state, threshold 3: a blip that passes on the third attempt alerts nobody.
        (2, 0, False, "up", 3, 2),
        (0, 0, False, "up", 1, 0),
        # Hard down: all three attempts fail in this run, so it alerts now.
        (9, 0, False, "down", 3, 2),
        # Two failures carried over from the last run: one attempt reaches the threshold.
        (9, 2, False, "down", 1, 0),
        # Already alerting: no re-probing, one attempt per run.
        (9, 3, True, "down", 1, 0),
    ],
)
def test_a_failing_check_is_retried_up_to_the_threshold(
    server: FakeServer,
    tmp_path: Path,
    failures: int,
    prior_failures: int,
    incident_open: bool,
    status: str,
    attempts: int,
    waits: int,
) -> None:
    # Given a target that fails `failures` times, threshold 3, retry_interval 10 s
    path = f"/flaky/{failures}-{prior_failures}-{incident_open}"
    flaky = Flaky(failures)
    server.route("GET", path, flaky)
    config = make_config(
        [{"id": "flaky", "url": f"{server.url}{path}"}],
        failure_threshold=3,
        retry_interval="10s",
    )
    store = LocalStore(tmp_path)
    store.save(
        AlertState(
            "flaky",
            status="down" if prior_failures else "up",
            consecutive_failures=prior_failures,
            incident_open=incident_open,
        )
    )
    slept: list[float] = []

    # When the tier runs (sleeping is recorded, not done)
    result = run(config, tmp_path, sleep=slept.append, store=store)

    # Then it made as many attempts as the threshold allows, waiting retry_interval between
    (check,) = result.results
    assert (check.status, check.attempts) == (status, attempts)
    assert flaky.calls == attempts
    assert slept == [10.0] * waits
    state = store.load(["flaky"])["flaky"]
    if status == "down":
        assert state.consecutive_failures == prior_failures + attempts
        assert state.incident_open
    else:
        assert state.consecutive_failures == 0
        assert not result.alerts


def test_hard_down_alerts_in_its_first_run(server: FakeServer, tmp_path: Path) -> None:
    server.route("GET", "/always-down", Response(503, "x"))
    config = make_config([{"id": "down", "url": f"{server.url}/always-down"}], retry_interval="10s")

    result = run(config, tmp_path, sleep=lambda s: None)

    assert [e.event for e in result.alerts] == ["triggered"]
    assert result.results[0].attempts == 3


def test_no_retry_wait_would_cross_the_deadline(server: FakeServer, tmp_path: Path) -> None:
    server.route("GET", "/down-too", Response(503, "x"))
    config = make_config(
        [{"id": "down", "url": f"{server.url}/down-too"}], deadline="5s", retry_interval="10s"
    )
    slept: list[float] = []

    result = run(config, tmp_path, sleep=slept.append)

    assert result.results[0].attempts == 1
    assert slept == []


# ---------------------------------------------------------------------- the shared session


@pytest.mark.parametrize("workers", [1, 8, DEFAULT_CONCURRENCY])
def test_session_pool_matches_the_worker_count(workers: int) -> None:
    session = http_session(workers)
    try:
        for scheme in ("http://", "https://"):
            adapter: Any = session.get_adapter(f"{scheme}example.test/")
            assert adapter._pool_connections == workers
            assert adapter._pool_maxsize == workers
            assert adapter.max_retries.total == 0  # retries are the engine's, not urllib3's
    finally:
        session.close()


def test_the_aiohttp_connector_is_bounded_by_the_concurrency() -> None:
    async def limits() -> tuple[int, int, bool]:
        session = aio_session(8)
        try:
            jar = type(session.cookie_jar).__name__
            return (
                session.connector.limit,
                session.connector.limit_per_host,
                jar == "DummyCookieJar",
            )
        finally:
            await session.close()

    limit, per_host, no_cookies = asyncio.run(limits())
    assert (limit, per_host, no_cookies) == (8, 0, True)


def test_a_missing_secret_is_not_re_probed(tmp_path):
    """Waiting `retry_interval` cannot make a secret appear: one attempt, down, error `secret`."""
    from healthwatch.engine import Ports, run_tier
    from healthwatch.runtime.clients import aio_session, http_session
    from healthwatch.secrets import Secrets
    from healthwatch.storage.local import LocalStore

    from tests.helpers import config as make_config

    cfg = make_config("""
        defaults: {retry_interval: 5s}
        tiers: {quick: {schedule: rate(15 minutes)}}
        checks:
          - id: needs-token
            tier: quick
            url: http://127.0.0.1:9/health
            headers: {Authorization: "Bearer ${secret:team/api-token}"}
    """)
    waits: list[float] = []
    run = run_tier(
        cfg,
        "quick",
        Ports(states=LocalStore(tmp_path)),
        open_http=aio_session,
        session=http_session(2),
        secrets=Secrets.local({}),
        sleep=waits.append,
    )
    (res,) = run.results
    assert res.status == "down" and res.attempts == 1 and waits == []
    assert res.error is not None and res.error.startswith("secret: ")
    assert "HW_SECRET_TEAM_API_TOKEN" in res.error


def test_a_probe_verdict_on_an_error_is_not_overruled_by_conditions():
    """A vendor's 429 is degraded: `[STATUS] == 200` was written for the normal answer."""
    from healthwatch.engine.verdict import judge
    from healthwatch.probes import Observation

    from tests.helpers import config as make_config

    cfg = make_config("""
        tiers: {quick: {schedule: rate(15 minutes)}}
        checks: [{id: svc, tier: quick, url: "http://127.0.0.1:9/", conditions: ["[STATUS] == 200"]}]
    """)
    check = cfg.check("svc")
    limited = Observation(verdict="degraded", error="rate_limited: retry in 2s", http_status=429)
    res = judge(check, "r", "quick", "2026-11-26T00:00:00.000Z", limited, 1)
    assert res.status == "degraded" and res.conditions == []
    # Without an error the conditions still apply on top of the probe's verdict.
    fine = Observation(verdict="up", http_status=500, latency_ms=3.0)
    res = judge(check, "r", "quick", "2026-11-26T00:00:00.000Z", fine, 1)
    assert res.status == "down" and res.error == "condition_failed: [STATUS] (500) == 200"


def test_a_broken_state_store_still_stores_the_results_and_reports(tmp_path):
    """Nothing lost: the results land, no alert goes out unclaimed, the run says what failed."""
    from healthwatch.engine import Ports, run_tier
    from healthwatch.errors import RunError
    from healthwatch.runtime.clients import aio_session, http_session
    from healthwatch.secrets import Secrets
    from healthwatch.storage.local import LocalStore

    from tests.helpers import RecordingNotifier
    from tests.helpers import config as make_config

    class BrokenStates(LocalStore):
        def save_many(self, states):
            raise OSError("disk full")

    cfg = make_config("""
        defaults: {failure_threshold: 1}
        tiers: {quick: {schedule: rate(15 minutes)}}
        checks: [{id: svc, tier: quick, url: "http://127.0.0.1:9/health"}]
    """)
    results = LocalStore(tmp_path / "results")
    notifier = RecordingNotifier()
    backend = Ports(states=BrokenStates(tmp_path / "state"), results=results, notifier=notifier)
    with pytest.raises(RunError) as info:
        run_tier(
            cfg,
            "quick",
            backend,
            open_http=aio_session,
            session=http_session(2),
            secrets=Secrets.local({}),
        )
    assert info.value.problems == ["alert state: disk full"]
    assert notifier.events == []  # an alert is sent only once its state is saved
    assert list((tmp_path / "results/results/tier=quick").rglob("health-check-*.json"))


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (
            {"summary": "no machine can take traffic: 0901 critical"},
            "flyio: no machine can take traffic: 0901 critical",
        ),
        ({}, "flyio: judged down by the probe"),
    ],
)
def test_a_down_verdict_always_says_what_broke(details, expected):
    """A probe that judges many things (Fly machines, a status page) and says down without an
    error of its own still gives the result a non-empty error: its summary."""
    from healthwatch.engine.verdict import judge
    from healthwatch.probes import Observation

    from tests.helpers import config as make_config

    cfg = make_config("""
        tiers: {comprehensive: {schedule: rate(6 hours)}}
        checks: [{id: fly, tier: comprehensive, type: flyio, app: hotdash}]
    """)
    obs = Observation(verdict="down", details=dict(details), latency_ms=1.0)
    result = judge(cfg.check("fly"), "r", "comprehensive", "2026-11-26T20:45:00.000Z", obs, 1)
    assert result.status == "down" and result.error == expected


def test_a_checks_task_is_made_when_a_slot_is_free_not_up_front(
    server: FakeServer, tmp_path: Path
) -> None:
    # Given 80 checks and 4 slots
    config = make_config([{"id": f"f-{i}", "url": f"{server.url}/fast?i={i}"} for i in range(80)])
    alive: list[int] = []

    # When the tier runs, counting the loop's tasks as each result comes in
    run_ = run(
        config, tmp_path, workers=4, on_result=lambda r: alive.append(len(asyncio.all_tasks()))
    )

    # Then every check ran, and the loop never held more than the 4 running checks'
    # tasks and the run's own few (80 tasks waiting for a slot cost 15 MB at 10,000 checks)
    assert [r.status for r in run_.results] == ["up"] * 80
    assert len(alive) == 80
    assert max(alive) <= 4 + 3


def test_a_check_waiting_to_retry_holds_no_slot(server: FakeServer, tmp_path: Path) -> None:
    # Given one slot, a check that fails once and is retried after 1 s, and a check behind it
    server.route("GET", "/flaky-once", Flaky(1))
    config = make_config(
        [
            {"id": "flaky", "url": f"{server.url}/flaky-once"},
            {"id": "behind", "url": f"{server.url}/fast?behind"},
        ],
        failure_threshold=2,
        retry_interval="1s",
    )
    order: list[str] = []

    # When the tier runs
    run_ = run(config, tmp_path, workers=1, on_result=lambda r: order.append(r.check_id))

    # Then the check behind ran while the first waited, and the retry then succeeded
    assert order == ["behind", "flaky"]
    assert [(r.check_id, r.status, r.attempts) for r in run_.results] == [
        ("flaky", "up", 2),
        ("behind", "up", 1),
    ]
