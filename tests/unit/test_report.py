"""The report's figures against values computed by hand on a fixed history."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from healthwatch.cli import main
from healthwatch.cli.terminal import with_progress
from healthwatch.models import Result, TierRun, iso
from healthwatch.runtime.config_source import parse_config
from healthwatch.storage.local import LocalStore
from healthwatch.views.report import build_report, percentile, render_text

T0 = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = T0 + timedelta(hours=5)  # 15 minutes after the last result

CONFIG = """
version: 1
slo: {availability: 75, latency_p95_ms: 500, error_rate: 30}
tiers:
  quick: {schedule: rate(15 minutes)}
  slow: {schedule: rate(1 hour)}
checks:
  - {id: api, name: API, tier: quick, url: "http://127.0.0.1:9/health"}
  - {id: web, name: Web, tier: quick, url: "http://127.0.0.1:9/"}
  - {id: idle, name: Never run, tier: slow, url: "http://127.0.0.1:9/"}
"""

# (status, latency_ms, attempts) every 15 minutes from T0, for check `api`.
API = [
    ("up", 100, 1),
    ("up", 110, 1),
    ("up", 120, 2),  # 00:30 passed on its 2nd attempt
    ("down", None, 3),
    ("down", 900, 3),  # incident 1: 00:45 -> 01:15 (30 min)
    ("up", 130, 1),
    ("degraded", 600, 1),
    ("up", 140, 1),
    ("up", 150, 1),
    ("up", 160, 1),
    ("down", None, 3),  # incident 2: 02:30 -> 02:45 (15 min)
    ("up", 170, 1),
    ("up", 180, 1),
    ("up", 190, 1),
    ("up", 200, 1),
    ("degraded", 700, 1),
    ("up", 210, 1),
    ("up", 220, 1),
    ("up", 230, 1),
    ("down", None, 3),  # incident 3: 04:45, still open
]


def record(
    check: str, i: int, status: str, latency: float | None, attempts: int = 1, **details: object
) -> Result:
    return Result(
        run_id=f"quick-{i}",
        tier="quick",
        check_id=check,
        check_name=check.upper(),
        type="http",
        target="http://127.0.0.1:9/",
        started_at=iso(T0 + timedelta(minutes=15 * i)),
        status=status,  # type: ignore[arg-type]
        latency_ms=latency,
        attempts=attempts,
        error="timeout" if status == "down" else None,
        details=dict(details),
    )


def history() -> list[Result]:
    api = [record("api", i, *row) for i, row in enumerate(API)]
    web = [record("web", i, "up", 10.0 * (i + 1)) for i in range(20)]  # 10, 20, ... 200 ms
    web.append(record("web", 20, "down", 5000.0, 3, maintenance="deploy"))  # not counted
    return sorted(api + web, key=lambda r: r.started_at)


@pytest.fixture
def report():
    return build_report(history(), parse_config(CONFIG), T0, UNTIL)


def test_nearest_rank_percentile():
    values = [10.0 * (i + 1) for i in range(20)]
    # Nearest rank: the value at rank ceil(p/100 * n); linear interpolation would give 105/190.5.
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (
        100,
        190,
        200,
    )
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_check_figures(report):
    api = next(r for r in report.tiers["quick"] if r.check_id == "api").to_dict(report.slo, UNTIL)
    assert (api["runs"], api["up"], api["degraded"], api["down"]) == (20, 14, 2, 4)
    assert api["uptime_pct"] == 80.0  # (14 up + 2 degraded) / 20
    # 29 attempts; failed: 1 hidden by the retry at 00:30 + 3 for each of the 4 down runs.
    assert (api["attempts"], api["failed_attempts"]) == (29, 13)
    assert api["error_rate_pct"] == round(100 * 13 / 29, 4)
    # 17 latencies (the 3 timeouts have none): 100, 110, ... 230, 600, 700, 900; rank 9 is 180.
    assert api["latency_ms"] == {"p50": 180.0, "p95": 900.0, "p99": 900.0, "samples": 17}
    inc = api["incidents"]
    assert (inc["count"], inc["open"]) == (3, 1)
    assert inc["longest_s"] == 1800  # 00:45 -> 01:15
    assert inc["mttr_s"] == 1350  # (30 min + 15 min) / 2; the open one has not recovered
    assert [i["duration_s"] for i in inc["list"]] == [1800, 900, 900]  # open: 04:45 -> until
    # Budget: 25% of 20 runs = 5 failed runs allowed, 4 used: 20% left.
    assert api["error_budget_left_pct"] == 20.0
    assert api["slo"]["availability"] == {"target": 75, "actual": 80.0, "ok": True}
    assert api["slo"]["latency_p95_ms"]["ok"] is False
    assert api["slo"]["error_rate"]["ok"] is False


def test_maintenance_results_are_left_out(report):
    web = next(r for r in report.tiers["quick"] if r.check_id == "web").to_dict(report.slo, UNTIL)
    assert (web["runs"], web["maintenance"], web["down"]) == (20, 1, 0)
    assert web["latency_ms"] == {"p50": 100.0, "p95": 190.0, "p99": 200.0, "samples": 20}
    assert web["uptime_pct"] == 100.0 and web["error_budget_left_pct"] == 100.0
    assert web["incidents"]["count"] == 0 and web["incidents"]["mttr_s"] is None


def test_tier_totals(report):
    total = report.totals["quick"].to_dict(report.slo, UNTIL)
    assert total["runs"] == 40 and total["uptime_pct"] == 90.0
    assert total["error_rate_pct"] == round(100 * 13 / 49, 4)
    # 37 latencies pooled: rank 19 is 140, rank 36 is 700, rank 37 is 900.
    assert total["latency_ms"] == {"p50": 140.0, "p95": 700.0, "p99": 900.0, "samples": 37}
    assert total["incidents"]["count"] == 3 and total["incidents"]["longest_s"] == 1800
    assert total["error_budget_left_pct"] == 60.0  # 10 allowed, 4 used


def test_configured_check_without_results_shows_no_data(report):
    idle = report.tiers["slow"][0]
    assert idle.check_id == "idle" and idle.stats.runs == 0
    assert "no data" in render_text(report)


def test_text_marks_each_figure_against_its_target(report):
    text = render_text(report, window="5h")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("api "))
    assert "80.000% ✓" in line and "44.828% ✗" in line and "900ms ✗" in line
    assert "3" in line.split() and "30m" in line and "22m 30s" in line and "20.0%" in line
    assert (
        "SLO: uptime ≥ 75%" in text and "breached (2): api:latency_p95_ms, api:error_rate" in text
    )


def test_only_one_check(report):
    one = build_report(history(), parse_config(CONFIG), T0, UNTIL, only_check="web")
    assert [r.check_id for rows in one.tiers.values() for r in rows] == ["web"]


def test_report_command_reads_the_local_history(tmp_path, capsys):
    # Given a local data directory holding the fixed history, shifted to end now
    shift = datetime.now(UTC).replace(microsecond=0) - UNTIL
    store = LocalStore(tmp_path / "data")
    for rec in history():
        rec.started_at = iso(datetime.fromisoformat(rec.started_at[:-1] + "+00:00") + shift)
        store.write_run(
            TierRun(f"quick-{rec.started_at}-{rec.check_id}", "quick", rec.started_at, 1.0, [rec])
        )
    cfg = tmp_path / "checks.yaml"
    cfg.write_text(CONFIG)
    # When the report is asked for as JSON
    code = main(
        [
            "report",
            "--config",
            str(cfg),
            "--data-dir",
            str(tmp_path / "data"),
            "--since",
            "1d",
            "--json",
            "--backend",
            "local",
        ]
    )
    # Then it holds the same figures
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    api = doc["tiers"][0]["checks"][0]
    assert api["check_id"] == "api" and api["uptime_pct"] == 80.0
    assert api["latency_ms"]["p95"] == 900.0 and doc["percentile_method"] == "nearest-rank"
    # And the text form and `--check` work too
    assert (
        main(
            [
                "report",
                "--config",
                str(cfg),
                "--data-dir",
                str(tmp_path / "data"),
                "--check",
                "web",
                "--backend",
                "local",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "web" in out and "api " not in out
    assert (
        main(
            [
                "report",
                "--config",
                str(cfg),
                "--data-dir",
                str(tmp_path / "data"),
                "--check",
                "nope",
            ]
        )
        == 2
    )


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_reads_show_progress_on_a_terminal_only():
    tty, pipe = _Tty(), io.StringIO()
    assert len(list(with_progress(({"n": i} for i in range(1200)), every=500, stream=tty))) == 1200
    assert list(with_progress(({"n": i} for i in range(1200)), every=500, stream=pipe))
    assert "reading history: 500 results" in tty.getvalue()
    assert "1,200 results, done" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_the_error_budget_is_n_a_until_the_window_allows_one_failure():
    """Five runs, one down, against 99.9 %: the budget allows 0.005 failed runs, so a
    percentage (-19,900 %) would say nothing; the report says n/a instead."""
    config = parse_config(CONFIG.replace("availability: 75", "availability: 99.9"))
    few = [record("api", i, "down" if i == 0 else "up", 10.0) for i in range(5)]
    report = build_report(few, config, T0, UNTIL)
    api = next(r for r in report.tiers["quick"] if r.check_id == "api")
    assert api.to_dict(report.slo, UNTIL)["error_budget_left_pct"] is None
    line = next(li for li in render_text(report).splitlines() if li.strip().startswith("api"))
    assert "n/a" in line and "%" in line  # the uptime still shows
