"""The status page: rollup arithmetic, a self-contained page, the after-run hook, the command."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from healthwatch.cli import main
from healthwatch.codec import dumps
from healthwatch.models import Result, TierRun, iso
from healthwatch.runtime.config_source import parse_config
from healthwatch.runtime.hooks import StatusPageWriter
from healthwatch.storage.keys import STATUS_PAGE_KEY
from healthwatch.storage.local import LocalStore
from healthwatch.views.statuspage import (
    DAYS,
    LATENCY_POINTS,
    build_rollups,
    day_class,
    day_counts,
    empty_rollup,
    load_rollup,
    merge,
    overall_state,
    plain,
    render,
    rollup_key,
    write_rollup,
)

NOW = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)

CONFIG = """
version: 1
tiers:
  quick: {schedule: rate(15 minutes), description: Production endpoints}
  hourly: {schedule: rate(1 hour)}
checks:
  - {id: api, name: "API <&> \\"edge\\"", tier: quick, url: "http://127.0.0.1:9/"}
  - {id: web, name: Web, tier: quick, url: "http://127.0.0.1:9/"}
  - {id: shop, name: Shop, tier: hourly, url: "http://127.0.0.1:9/"}
"""


def rec(
    check: str,
    at: datetime,
    status: str = "up",
    latency: float | None = 100.0,
    tier: str = "quick",
    **details: object,
) -> Result:
    return Result(
        f"{tier}-{iso(at)}",
        tier,
        check,
        check.title(),
        "http",
        "http://x/",
        iso(at),
        status,
        latency,
        error="timeout" if status == "down" else None,  # type: ignore[arg-type]
        details=dict(details),
    )


def test_merge_counts_days_and_tracks_incidents():
    t = NOW - timedelta(hours=2)
    records = [
        rec("api", t + timedelta(minutes=15 * i), s)
        for i, s in enumerate(["up", "down", "down", "up", "degraded", "down"])
    ]
    records.append(rec("api", t - timedelta(days=1), "up"))
    doc = merge(empty_rollup("quick"), records, NOW)
    api = doc["checks"]["api"]
    assert day_counts(api["days"]) == {
        (t - timedelta(days=1)).strftime("%Y-%m-%d"): {
            "up": 1,
            "degraded": 0,
            "down": 0,
            "maintenance": 0,
        },
        t.strftime("%Y-%m-%d"): {"up": 2, "degraded": 1, "down": 3, "maintenance": 0},
    }
    assert [(i["started_at"], i["ended_at"], i["results"]) for i in api["incidents"]] == [
        (iso(t + timedelta(minutes=15)), iso(t + timedelta(minutes=45)), 2),
        (iso(t + timedelta(minutes=75)), None, 1),
    ]
    assert api["last"]["status"] == "down" and len(api["latency"]) == 7


def test_merge_is_idempotent_per_run_and_prunes_old_days():
    doc = empty_rollup("quick")
    run = [rec("api", NOW)]
    merge(doc, run, NOW, run_id="r1")
    merge(doc, run, NOW, run_id="r1")
    assert day_counts(doc["checks"]["api"]["days"])[NOW.strftime("%Y-%m-%d")]["up"] == 1
    merge(doc, [rec("api", NOW - timedelta(days=DAYS + 3))], NOW, run_id="r0")
    assert list(day_counts(doc["checks"]["api"]["days"])) == [NOW.strftime("%Y-%m-%d")]
    assert doc["checks"]["api"]["days"]["from"] == NOW.strftime("%Y-%m-%d")
    merge(doc, [rec("api", NOW + timedelta(minutes=i)) for i in range(LATENCY_POINTS + 10)], NOW)
    assert len(doc["checks"]["api"]["latency"]) == LATENCY_POINTS


def test_maintenance_results_neither_count_as_down_nor_open_incidents():
    doc = merge(empty_rollup("quick"), [rec("api", NOW, "down", maintenance="deploy")], NOW)
    day = day_counts(doc["checks"]["api"]["days"])[NOW.strftime("%Y-%m-%d")]
    assert (day["down"], day["maintenance"]) == (0, 1) and doc["checks"]["api"]["incidents"] == []


def test_a_version_1_rollup_is_upgraded_keeping_its_days_and_latencies():
    day = {"up": 3, "degraded": 1, "down": 2, "maintenance": 1}
    v1 = {
        "version": 1,
        "tier": "quick",
        "updated_at": iso(NOW),
        "runs": ["r1"],
        "checks": {
            "api": {
                "name": "API",
                "type": "http",
                "target": "http://x/",
                "last": {"at": iso(NOW), "status": "up", "latency_ms": 130.0, "error": None},
                "days": {"2026-11-20": day, "2026-11-24": {**day, "down": 0}},
                "latency": [[iso(NOW - timedelta(minutes=15)), 120.0], [iso(NOW), 130.0]],
                "incidents": [],
            }
        },
    }
    doc = load_rollup(json.dumps(v1).encode(), "quick")
    api = doc["checks"]["api"]
    assert doc["version"] == 2 and list(api["latency"]) == [120.0, 130.0]
    assert day_counts(api["days"]) == {"2026-11-20": day, "2026-11-24": {**day, "down": 0}}
    merge(doc, [rec("api", NOW, "down")], NOW, run_id="r2")
    counts = day_counts(api["days"])
    assert list(counts) == ["2026-11-20", "2026-11-24", "2026-11-26"]
    assert counts["2026-11-26"] == {"up": 0, "degraded": 0, "down": 1, "maintenance": 0}
    assert list(api["latency"]) == [120.0, 130.0, 100.0]


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"version": 2, "tier": "quick", "checks": {"api": {"days": {"from": "2026-11-26",'
        b' "up": [-1], "degraded": [0], "down": [0], "maintenance": [0]}, "latency": []}}}',
        b'{"version": 2, "tier": "quick", "checks": {"api": {"days": {"from": null, "up": [],'
        b' "degraded": [], "down": [], "maintenance": []}, "latency": ["fast"]}}}',
    ],
)
def test_an_unreadable_rollup_starts_a_new_one(raw):
    assert load_rollup(raw, "quick") == empty_rollup("quick")


def test_days_grow_over_gaps_and_late_results_and_age_out():
    first = NOW - timedelta(days=10)
    doc = merge(empty_rollup("quick"), [rec("api", first), rec("api", NOW, "down")], NOW)
    merge(doc, [rec("api", first - timedelta(days=2), "degraded")], NOW)  # late, older
    days = doc["checks"]["api"]["days"]
    assert days["from"] == (first - timedelta(days=2)).strftime("%Y-%m-%d")
    assert len(days["up"]) == 13  # a column entry for each day, the empty ones too
    assert {d: (c["up"], c["degraded"], c["down"]) for d, c in day_counts(days).items()} == {
        (first - timedelta(days=2)).strftime("%Y-%m-%d"): (0, 1, 0),
        first.strftime("%Y-%m-%d"): (1, 0, 0),
        NOW.strftime("%Y-%m-%d"): (0, 0, 1),
    }
    # DAYS - 5 days on, the first two have aged out, and so has the empty stretch after them
    later = NOW + timedelta(days=DAYS - 5)
    merge(doc, [rec("api", later)], later)
    assert days["from"] == NOW.strftime("%Y-%m-%d")
    assert list(day_counts(days)) == [NOW.strftime("%Y-%m-%d"), later.strftime("%Y-%m-%d")]


def test_a_full_rollup_of_a_check_is_a_few_kilobytes():
    # 90 days of a 15-minute tier and a full sparkline: 9 KB a check in version 1's shape
    start = NOW.replace(hour=0) - timedelta(days=DAYS - 1)
    records = [rec("api", start + timedelta(minutes=15 * i)) for i in range(96 * DAYS)]
    doc = merge(empty_rollup("quick"), records, NOW)
    api = doc["checks"]["api"]
    assert len(api["days"]["up"]) == DAYS and len(api["latency"]) == LATENCY_POINTS
    assert len(dumps(api, default=plain)) < 2_500


def test_checks_with_days_of_their_own_each_get_their_own_bars():
    # More distinct bar strips than a render keeps: each card still shows its own days
    n = 300
    config = parse_config(
        "tiers: {quick: {schedule: rate(15 minutes)}}\nchecks:\n"
        + "".join(f'  - {{id: c{i}, tier: quick, url: "http://127.0.0.1:9/"}}\n' for i in range(n))
    )
    records = [
        rec(f"c{i}", NOW - timedelta(minutes=k)) for i in range(n) for k in range(i % 7 + i // 7)
    ]
    page = render(config, build_rollups(records, NOW), NOW)
    for i in range(n):
        card = re.search(rf'data-check="c{i}" data-status="[a-z]+">(.*?)</section>', page, re.S)
        assert card is not None
        runs = i % 7 + i // 7
        today = f"{NOW:%b %d}: 100.00% up ({runs} runs, 0 down)" if runs else f"{NOW:%b %d}: no"
        assert today in card.group(1), i


@pytest.mark.parametrize(
    ("statuses", "state"),
    [
        ([], None),
        ([None], None),
        (["up", "up"], "up"),
        (["up", "degraded"], "degraded"),
        (["up", "down", "degraded"], "partial"),
        (["down", "down", None], "down"),
    ],
)
def test_overall_state(statuses, state):
    assert overall_state(statuses) == state


@pytest.mark.parametrize(
    ("counts", "cls"),
    [
        (None, "none"),
        ({"up": 0, "degraded": 0, "down": 0, "maintenance": 4}, "none"),
        ({"up": 96}, "up"),
        ({"up": 90, "degraded": 6}, "degraded"),
        ({"up": 95, "down": 1}, "partial"),  # 98.96% up
        ({"up": 10, "down": 10}, "down"),
    ],
)
def test_day_colour(counts, cls):
    assert day_class(counts)[0] == cls


def test_page_is_self_contained_and_escaped():
    config = parse_config(CONFIG)
    records = [rec("api", NOW - timedelta(minutes=15 * i)) for i in range(10)]
    records += [rec("web", NOW - timedelta(minutes=5), "down")]
    page = render(config, build_rollups(records, NOW), NOW)
    # Nothing fetched from anywhere: no scripts, stylesheets, fonts, images or frames.
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"(src|href)\s*=|url\(|@import|@font-face", page, re.I)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # Names are escaped, every configured check has a card with 90 bars, even without data.
    assert "API &lt;&amp;&gt; &quot;edge&quot;" in page and "<&>" not in page
    for cid, status in (("api", "up"), ("web", "down"), ("shop", "none")):
        card = re.search(
            rf'<section class="card check" data-check="{cid}" '
            rf'data-status="{status}">(.*?)</section>',
            page,
            re.S,
        )
        assert card is not None, cid
        assert card.group(1).count("<rect ") == DAYS
    assert 'data-state="down"' in page and "Partial outage" in page
    assert "Web</strong>: down since" in page  # the open incident
    assert 'name="viewport"' in page


def test_hook_keeps_the_rollup_and_writes_the_page(tmp_path):
    config = parse_config(CONFIG)
    store = LocalStore(tmp_path)
    clock = {"now": NOW - timedelta(hours=1)}
    writer = StatusPageWriter(config, store, now=lambda: clock["now"])
    history = []
    for i in range(4):
        at = clock["now"]
        results = [
            rec("api", at, "down" if i == 2 else "up"),
            rec("web", at, latency=200.0 + i),
            rec("gone", at),
        ]  # no longer in the config
        history += [r for r in results if r.check_id != "gone"]
        run = TierRun(f"quick-{i}", "quick", iso(at), 1.0, results)
        writer(run)
        writer(run)  # a retried hook must not count the run twice
        clock["now"] += timedelta(minutes=15)
    writer(
        TierRun(
            "hourly-0",
            "hourly",
            iso(clock["now"]),
            1.0,
            [rec("shop", clock["now"], "degraded", tier="hourly")],
        )
    )
    history.append(rec("shop", clock["now"], "degraded", tier="hourly"))

    page = store.get_document(STATUS_PAGE_KEY).decode()
    assert 'data-check="shop" data-status="degraded"' in page
    assert 'data-check="api" data-status="up"' in page and "gone" not in page
    quick = json.loads(store.get_document(rollup_key("quick")))
    assert set(quick["checks"]) == {"api", "web"}
    # The hook's rollup is what the command rebuilds from history.
    rebuilt = build_rollups(history, clock["now"])
    for tier in ("quick", "hourly"):
        stored = load_rollup(store.get_document(rollup_key(tier)), tier)
        assert stored["checks"] == rebuilt[tier]["checks"]


def test_status_page_command_builds_the_page_from_history(tmp_path, capsys):
    config_path = tmp_path / "checks.yaml"
    config_path.write_text(CONFIG)
    store = LocalStore(tmp_path / "data")
    now = datetime.now(UTC)
    results = [rec("api", now - timedelta(days=d)) for d in range(0, 30)]
    store.write_run(TierRun("quick-x", "quick", iso(now), 1.0, results))
    out = tmp_path / "site" / "index.html"
    assert (
        main(
            [
                "status-page",
                "--config",
                str(config_path),
                "--data-dir",
                str(tmp_path / "data"),
                "--out",
                str(out),
                "--backend",
                "local",
            ]
        )
        == 0
    )
    page = out.read_text()
    assert 'data-check="api" data-status="up"' in page and "100.00% uptime" in page
    assert page.count('<rect class="up"') == 30
    assert str(out) in capsys.readouterr().out


def test_every_local_run_writes_the_page_and_the_comprehensive_one_the_log(tmp_path):
    from healthwatch.alerting.slo import SloBurnAlerts
    from healthwatch.runtime import local
    from healthwatch.runtime.hooks import ReliabilityLog
    from healthwatch.secrets import Secrets

    from tests.fakes.server import FakeServer, Response

    with FakeServer() as server:
        server.route("GET", "/health", Response(200, {"status": "ok"}))
        config_path = tmp_path / "checks.yaml"
        config_path.write_text(f"""
version: 1
slo: {{availability: 99.9}}
tiers:
  quick: {{schedule: rate(15 minutes)}}
  comprehensive: {{schedule: rate(6 hours)}}
checks:
  - {{id: api, tier: quick, url: "{server.url}/health"}}
  - {{id: deep, tier: comprehensive, url: "{server.url}/health"}}
""")
        # The local backend gets every after-run hook
        runtime = local.build(
            parse_config(config_path.read_text()), tmp_path / "d", secrets=Secrets.local()
        )
        kinds = [type(h) for h in runtime.ports.after_run]
        assert isinstance(runtime.ports.slo, SloBurnAlerts)  # claimed with the other alerts
        assert kinds == [StatusPageWriter, ReliabilityLog]
        # And `healthwatch run --all` leaves the page and the log in the data directory
        assert (
            main(
                [
                    "run",
                    "--all",
                    "--config",
                    str(config_path),
                    "--data-dir",
                    str(tmp_path / "d"),
                    "--backend",
                    "local",
                    "--json",
                ]
            )
            == 0
        )
    page = (tmp_path / "d" / "status" / "index.html").read_text()
    assert (
        'data-check="api" data-status="up"' in page and 'data-check="deep" data-status="up"' in page
    )
    assert "All systems operational" in page
    assert (tmp_path / "d" / "reports" / "reliability.md").read_text().startswith("# Reliability")


def test_the_page_links_each_check_to_its_runbook_and_dashboards():
    config = parse_config(
        CONFIG.replace(
            'url: "http://127.0.0.1:9/"}',
            'url: "http://127.0.0.1:9/", runbook: "https://wiki.example.com/rb?a=1&b=2", '
            'links: {logs: "https://logs.example.com/api"}}',
            1,
        )
    )
    records = [rec("api", NOW - timedelta(minutes=15 * i)) for i in range(3)]
    page = render(config, build_rollups(records, NOW), NOW)
    assert 'href="https://wiki.example.com/rb?a=1&amp;b=2"' in page  # escaped, once
    assert 'href="https://logs.example.com/api"' in page


def test_a_split_tier_renders_its_page_at_shard_zero_and_at_the_last_shard(tmp_path):
    config = parse_config(CONFIG.replace("description: Production endpoints", "shard_size: 1"))
    store = LocalStore(tmp_path)
    writer = StatusPageWriter(config, store, now=lambda: NOW)

    def shard(index: int, check: str, status: str = "up") -> TierRun:
        results = [rec(check, NOW, status)]
        return TierRun("quick-r1", "quick", iso(NOW), 1.0, results, shard=index, shards=2)

    def page() -> str | None:
        raw = store.get_document(STATUS_PAGE_KEY)
        return raw.decode() if raw else None

    # Shard 1 finishes first: shard 0 has not folded the run in, so no page yet
    writer(shard(1, "web"))
    assert page() is None
    assert json.loads(store.get_document(rollup_key("quick", 1, 2)))["runs"] == ["quick-r1"]
    # Shard 0 renders it, with both shards' checks
    writer(shard(0, "api", "down"))
    assert 'data-check="api" data-status="down"' in page()
    assert 'data-check="web" data-status="up"' in page()
    # The next run: shard 0 first renders what it has, and shard 1, now last, renders again
    later = TierRun("quick-r2", "quick", iso(NOW), 1.0, [rec("api", NOW)], shard=0, shards=2)
    writer(later)
    assert 'data-check="api" data-status="up"' in page()
    last = TierRun("quick-r2", "quick", iso(NOW), 1.0, [rec("web", NOW, "down")], shard=1, shards=2)
    writer(last)
    assert 'data-check="web" data-status="down"' in page()


def test_the_rollup_is_written_check_by_check_as_the_json_of_the_whole():
    import io

    records = [rec(c, NOW - timedelta(minutes=15 * i)) for c in ("api", "web") for i in range(3)]
    doc = build_rollups(records, NOW)["quick"]
    out = io.BytesIO()
    write_rollup(out, doc)
    assert json.loads(out.getvalue()) == json.loads(dumps(doc, default=plain))
    assert load_rollup(out.getvalue(), "quick") == doc
    empty = io.BytesIO()
    write_rollup(empty, {"checks": {}})
    assert json.loads(empty.getvalue()) == {"checks": {}}
