"""The reliability log: after each comprehensive run, a Markdown report under `reports/`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from healthwatch.durations import format_duration
from healthwatch.models import Result, TierRun, iso, parse_iso
from healthwatch.storage.keys import REPORTS_PREFIX
from healthwatch.views.report import Report, Row

if TYPE_CHECKING:
    from healthwatch.config import Config


log = logging.getLogger("healthwatch.reliability")

REPORT_TIER = "comprehensive"
LATEST_KEY = f"{REPORTS_PREFIX}reliability.md"
SNAPSHOT_KEY = f"{REPORTS_PREFIX}reliability.json"  # what the next report compares against
DEFAULT_PERIOD_S = 6 * 3600.0
MAX_PERIOD_S = 31 * 86400.0
LATENCY_CHANGE = 0.25  # a p95 that moved by more than this share is worth a line


def report_tier(config: Config) -> str:
    """The tier whose runs write the log: `comprehensive`, else the one run least often."""
    if REPORT_TIER in config.tiers:
        return REPORT_TIER
    return max(config.tiers, key=lambda t: config.tiers[t].period_seconds or 0)


def report_key(at: datetime) -> str:
    return f"{REPORTS_PREFIX}reliability-{at:%Y-%m-%dT%H-%M-%SZ}.md"


def snapshot(report: Report, records: list[Result], at: datetime) -> dict[str, Any]:
    """Per check: the last status and the period's p95, for the next report's 'what changed'."""
    last: dict[str, Result] = {}
    for r in records:
        if r.check_id not in last or r.started_at >= last[r.check_id].started_at:
            last[r.check_id] = r
    checks = {}
    for rows in report.tiers.values():
        for row in rows:
            latest = last.get(row.check_id)
            checks[row.check_id] = {
                "name": row.check_name,
                "tier": row.tier,
                "status": latest.status if latest else None,
                "error": latest.error if latest else None,
                "latency_ms": latest.latency_ms if latest else None,
                "p95_ms": row.stats.p(95),
            }
    return {"at": iso(at), "checks": checks}


def changes(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    if previous is None:
        return ["First report: nothing to compare with yet."]
    out = []
    before, now = previous.get("checks", {}), current["checks"]
    for cid, cur in now.items():
        old = before.get(cid)
        name = _md(cur["name"])
        if old is None:
            out.append(f"- **{name}**: new check ({cur['tier']} tier).")
            continue
        if old.get("status") != cur["status"]:
            why = f" ({_md(cur['error'])})" if cur["status"] == "down" and cur.get("error") else ""
            out.append(
                f"- **{name}**: {old.get('status') or 'no data'} → "
                f"{cur['status'] or 'no data'}{why}."
            )
        p_old, p_new = old.get("p95_ms"), cur.get("p95_ms")
        if p_old and p_new and abs(p_new - p_old) / p_old > LATENCY_CHANGE:
            verb = "slower" if p_new > p_old else "faster"
            out.append(f"- **{name}**: p95 latency {p_old:.0f} → {p_new:.0f} ms ({verb}).")
    for cid, old in before.items():
        if cid not in now:
            out.append(f"- **{_md(old.get('name', cid))}**: no longer checked.")
    return out or ["No status changes."]


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}%"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _mark(row: Row, slo: Any) -> str:
    verdicts = [t.ok for t in row.targets(slo).values() if t.ok is not None]
    if not verdicts:
        return "–"
    failed = [name for name, t in row.targets(slo).items() if t.ok is False]
    return "✓ met" if not failed else "✗ " + ", ".join(failed)


def render_markdown(
    report: Report,
    snap: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    run: TierRun,
    open_since: Mapping[str, str] | None = None,
) -> str:
    """`open_since`: check id -> when its open incident began (from the alert state), which
    may be before the period this log covers."""
    period = format_duration((report.until - report.since).total_seconds())
    lines = [
        f"# Reliability report — {report.until:%Y-%m-%d %H:%M} UTC",
        "",
        f"Period: {report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC ({period}) · "
        f"{report.records} results · written by run `{run.run_id}`.",
        "",
        "## What was checked",
        "",
        "| Check | Tier | Status | Latency | Runs | Uptime | Error rate | p95 | SLO |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for rows in report.tiers.values():
        for row in rows:
            s = row.stats
            cur = snap["checks"].get(row.check_id, {})
            lines.append(
                f"| {_md(row.check_name)} (`{row.check_id}`) | {row.tier} | "
                f"{cur.get('status') or 'no data'} | {_ms(cur.get('latency_ms'))} | {s.runs} | "
                f"{_pct(s.uptime_pct)} | {_pct(s.error_rate_pct)} | {_ms(s.p(95))} | "
                f"{_mark(row, report.slo)} |"
            )
    since = f" ({_when(previous['at'])})" if previous else ""
    lines += ["", f"## What changed since the last report{since}", "", *changes(previous, snap)]
    lines += ["", "## Incidents in the period", ""]
    incidents = sorted(
        (i for rows in report.tiers.values() for row in rows for i in row.stats.incident_list),
        key=lambda i: i.started_at,
    )
    names = {row.check_id: row.check_name for rows in report.tiers.values() for row in rows}
    began = dict(open_since or {})
    for inc in incidents:
        start = inc.started_at
        if inc.ended_at is None and began.get(inc.check_id, start) < start:
            start = began[inc.check_id]  # open since before this period: the incident's start
        end = parse_iso(inc.ended_at) if inc.ended_at else report.until
        dur = format_duration(max(0.0, (end - parse_iso(start)).total_seconds()))
        state = f"resolved {_when(inc.ended_at)}" if inc.ended_at else "**still open**"
        err = f" — {_md(inc.error)}" if inc.error else ""
        lines.append(
            f"- **{_md(names.get(inc.check_id, inc.check_id))}**: down from "
            f"{_when(start)} for {dur}, {state}{err}"
        )
    if not incidents:
        lines.append("None.")
    if report.slo is not None:
        lines += [
            "",
            f"SLO targets: uptime ≥ {report.slo.availability:g}%, "
            f"p95 ≤ {report.slo.latency_p95_ms:g} ms, "
            f"error rate ≤ {report.slo.error_rate:g}% (over this period). "
            "Percentiles are nearest-rank over every result.",
        ]
    return "\n".join(lines) + "\n"


def _when(stamp: str) -> str:
    return parse_iso(stamp).strftime("%Y-%m-%d %H:%M UTC")
