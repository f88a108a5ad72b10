"""The reliability log written after each comprehensive run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from healthwatch.models import Result, TierRun, iso
from healthwatch.runtime.config_source import parse_config
from healthwatch.runtime.hooks import ReliabilityLog
from healthwatch.storage.local import LocalStore
from healthwatch.views.reliability import LATEST_KEY, report_key, report_tier

T0 = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
CONFIG = """
version: 1
slo: {availability: 99.9, latency_p95_ms: 500, error_rate: 0.1}
tiers:
  quick: {schedule: rate(15 minutes)}
  comprehensive: {schedule: rate(6 hours)}
checks:
  - {id: api, name: "API | edge", tier: quick, url: "http://127.0.0.1:9/"}
  - {id: fly, name: Fly machines, tier: comprehensive, url: "http://127.0.0.1:9/"}
"""


def res(check: str, tier: str, at: datetime, status: str = "up", latency: float = 120.0) -> Result:
    return Result(
        f"{tier}-{iso(at)}",
        tier,
        check,
        check,
        "http",
        "http://x/",
        iso(at),
        status,
        latency,
        error="connection_refused" if status == "down" else None,
    )  # type: ignore[arg-type]


def test_each_comprehensive_run_writes_what_was_checked_changed_and_broke(tmp_path):
    store = LocalStore(tmp_path)
    clock = {"now": T0}
    hook = ReliabilityLog(
        parse_config(CONFIG),
        store,
        store,
        now=lambda: clock["now"],
    )

    def run(tier: str, check: str, status: str = "up", latency: float = 120.0) -> None:
        r = TierRun(
            f"{tier}-{iso(clock['now'])}",
            tier,
            iso(clock["now"]),
            1.0,
            [res(check, tier, clock["now"], status, latency)],
        )
        store.write_run(r)
        hook(r)

    # Given a first period of passing runs
    for _ in range(4):
        run("quick", "api")
        clock["now"] += timedelta(minutes=15)
    assert store.get_document(LATEST_KEY) is None  # only the comprehensive tier reports
    run("comprehensive", "fly")
    first = store.get_document(LATEST_KEY).decode()
    assert "# Reliability report — 2026-11-26 01:00 UTC" in first
    assert "| API \\| edge (`api`) | quick | up | 120 ms | 4 | 100.00% |" in first
    assert "First report" in first and "## Incidents in the period\n\nNone." in first

    # When api goes down and gets slow in the next period
    clock["now"] += timedelta(minutes=15)
    run("quick", "api", latency=900.0)
    clock["now"] += timedelta(minutes=15)
    run("quick", "api", "down")
    clock["now"] += timedelta(hours=6)
    run("comprehensive", "fly")

    # Then the next report says what changed and lists the incident, still open
    second = store.get_document(report_key(clock["now"])).decode()
    assert store.get_document(report_key(T0 + timedelta(hours=1))).decode() == first
    assert "## What changed since the last report (2026-11-26 01:00 UTC)" in second
    assert "- **API \\| edge**: up → down (connection_refused)." in second
    assert "- **API \\| edge**: p95 latency 120 → 900 ms (slower)." in second
    assert "down from 2026-11-26 01:30 UTC for 6h, **still open** — connection_refused" in second
    assert "✗ availability" in second
    assert "| Fly machines (`fly`) | comprehensive | up | 120 ms | 1 |" in second


def test_the_report_tier():
    assert report_tier(parse_config(CONFIG)) == "comprehensive"
    other = CONFIG.replace("comprehensive", "daily").replace("rate(6 hours)", "rate(1 day)")
    assert report_tier(parse_config(other)) == "daily"


def test_an_incident_open_since_before_the_period_shows_its_own_start(tmp_path):
    """The log covers 6 h; the incident began 8 h ago: 'down from' its start, for 8 h."""
    from healthwatch.models import AlertState

    store = LocalStore(tmp_path)
    now = T0 + timedelta(hours=20)
    began = now - timedelta(hours=8)
    store.save(AlertState("fly", status="down", incident_open=True, incident_started_at=iso(began)))
    hook = ReliabilityLog(parse_config(CONFIG), store, store, now=lambda: now, states=store)
    run = TierRun(
        "comprehensive-x",
        "comprehensive",
        iso(now),
        1.0,
        [res("fly", "comprehensive", now, "down")],
    )
    hook(run)
    text = store.get_document(LATEST_KEY).decode()
    line = next(li for li in text.splitlines() if li.startswith("- **Fly machines**"))
    assert f"down from {began:%Y-%m-%d %H:%M} UTC for 8h" in line and "still open" in line
