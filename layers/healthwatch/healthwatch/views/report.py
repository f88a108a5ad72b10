"""Uptime, error rate, latency percentiles, incidents and error budget from stored history."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from healthwatch.durations import format_duration
from healthwatch.models import Result, in_maintenance, iso, parse_iso

PERCENTILE_METHOD = "nearest-rank"


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `p`% of values at or below it.

    Always a latency that was really observed (no interpolation), exact over every result.
    """
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Incident:
    """A run of consecutive `down` results of one check, ended by its first passing result."""

    check_id: str
    tier: str
    started_at: str
    ended_at: str | None = None  # the first passing result; None while still down
    error: str | None = None
    results: int = 0

    def duration_s(self, until: datetime) -> float:
        end = parse_iso(self.ended_at) if self.ended_at else until
        return max(0.0, (end - parse_iso(self.started_at)).total_seconds())

    def to_dict(self, until: datetime) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "tier": self.tier,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "open": self.ended_at is None,
            "duration_s": round(self.duration_s(until), 3),
            "error": self.error,
            "results": self.results,
        }


def incidents(records: Iterable[Result]) -> list[Incident]:
    """Incidents in one check's records (oldest first); maintenance results are skipped."""
    out: list[Incident] = []
    current: Incident | None = None
    for r in records:
        if in_maintenance(r):
            continue
        if r.status == "down":
            if current is None:
                current = Incident(r.check_id, r.tier, r.started_at, error=r.error)
                out.append(current)
            current.results += 1
        elif current is not None:
            current.ended_at = r.started_at
            current = None
    return out


@dataclass
class Stats:
    """The figures of one check (or of a whole tier) over the window."""

    runs: int = 0
    up: int = 0
    degraded: int = 0
    down: int = 0
    maintenance: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    latencies: list[float] = field(default_factory=list)
    incident_list: list[Incident] = field(default_factory=list)

    def add(self, r: Result) -> None:
        if in_maintenance(r):
            self.maintenance += 1
            return
        status = r.status
        self.runs += 1
        if status == "up":
            self.up += 1
        elif status == "degraded":
            self.degraded += 1
        else:
            self.down += 1
        tries = max(1, int(r.attempts or 1))
        self.attempts += tries
        # A retry happens only after a failed attempt: a passing result on attempt n hid n-1.
        self.failed_attempts += tries if status == "down" else tries - 1
        if r.latency_ms is not None:
            self.latencies.append(float(r.latency_ms))

    @property
    def uptime_pct(self) -> float | None:
        return 100 * (self.up + self.degraded) / self.runs if self.runs else None

    @property
    def error_rate_pct(self) -> float | None:
        """Failed probe attempts over all attempts, the ones a retry recovered included."""
        return 100 * self.failed_attempts / self.attempts if self.attempts else None

    def p(self, q: float) -> float | None:
        return percentile(sorted(self.latencies), q)

    def budget_left_pct(self, availability: float) -> float | None:
        """Share of the window's error budget (allowed failed runs) not yet used. While the
        window's budget allows less than one failed run, a failure makes the figure meaningless
        (a handful of runs against 99.9 % read as -33,233 %): None, shown as n/a."""
        if not self.runs:
            return None
        allowed = self.runs * (1 - availability / 100)
        if allowed < 1:
            return 100.0 if self.down == 0 else None
        return 100 * (1 - self.down / allowed)

    def longest_s(self, until: datetime) -> float | None:
        return max((i.duration_s(until) for i in self.incident_list), default=None)

    def mttr_s(self) -> float | None:
        """Mean time to recovery over the incidents that recovered within the window."""
        closed = [i.duration_s(parse_iso(i.ended_at)) for i in self.incident_list if i.ended_at]
        return sum(closed) / len(closed) if closed else None


@dataclass
class Target:
    name: str
    target: float
    actual: float | None
    higher_is_better: bool

    @property
    def ok(self) -> bool | None:
        if self.actual is None:
            return None
        return self.actual >= self.target if self.higher_is_better else self.actual <= self.target


@dataclass
class Row:
    tier: str
    check_id: str
    check_name: str
    stats: Stats

    def targets(self, slo: Any) -> dict[str, Target]:
        if slo is None:
            return {}
        s = self.stats
        return {
            "availability": Target("availability", slo.availability, s.uptime_pct, True),
            "latency_p95_ms": Target("latency_p95_ms", slo.latency_p95_ms, s.p(95), False),
            "error_rate": Target("error_rate", slo.error_rate, s.error_rate_pct, False),
        }

    def to_dict(self, slo: Any, until: datetime) -> dict[str, Any]:
        s = self.stats
        out: dict[str, Any] = {
            "tier": self.tier,
            "check_id": self.check_id,
            "check_name": self.check_name,
            "runs": s.runs,
            "up": s.up,
            "degraded": s.degraded,
            "down": s.down,
            "maintenance": s.maintenance,
            "attempts": s.attempts,
            "failed_attempts": s.failed_attempts,
            "uptime_pct": _round(s.uptime_pct),
            "error_rate_pct": _round(s.error_rate_pct),
            "latency_ms": {
                "p50": s.p(50),
                "p95": s.p(95),
                "p99": s.p(99),
                "samples": len(s.latencies),
            },
            "incidents": {
                "count": len(s.incident_list),
                "open": sum(1 for i in s.incident_list if i.ended_at is None),
                "longest_s": _round(s.longest_s(until)),
                "mttr_s": _round(s.mttr_s()),
                "list": [i.to_dict(until) for i in s.incident_list],
            },
            "slo": {
                k: {"target": t.target, "actual": _round(t.actual), "ok": t.ok}
                for k, t in self.targets(slo).items()
            },
        }
        if slo is not None:
            left = s.budget_left_pct(slo.availability)
            out["error_budget_left_pct"] = None if left is None else _round(left)
        return out


@dataclass
class Report:
    since: datetime
    until: datetime
    slo: Any  # healthwatch.config.Slo | None
    tiers: dict[str, list[Row]]  # tier -> check rows, in config order
    totals: dict[str, Row]  # tier -> the tier's figures over all its checks
    records: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "percentile_method": PERCENTILE_METHOD,
            "records": self.records,
            "slo": None
            if self.slo is None
            else {
                "availability": self.slo.availability,
                "latency_p95_ms": self.slo.latency_p95_ms,
                "error_rate": self.slo.error_rate,
            },
            "tiers": [
                {
                    "tier": tier,
                    "total": self.totals[tier].to_dict(self.slo, self.until),
                    "checks": [r.to_dict(self.slo, self.until) for r in rows],
                }
                for tier, rows in self.tiers.items()
            ],
        }


def build_report(
    records: Iterable[Result],
    config: Any,
    since: datetime,
    until: datetime,
    only_check: str | None = None,
) -> Report:
    """Figures per check and per tier. Checks of the config without results show as no data;
    checks in history but no longer configured are reported too (their tier as recorded)."""
    by_check: dict[tuple[str, str], list[Result]] = {}
    names: dict[str, str] = {}
    count = 0
    for r in records:
        count += 1
        if only_check and r.check_id != only_check:
            continue
        by_check.setdefault((r.tier, r.check_id), []).append(r)
        names.setdefault(r.check_id, r.check_name or r.check_id)

    keys: list[tuple[str, str]] = []
    for check in config.checks:
        if only_check and check.id != only_check:
            continue
        names[check.id] = check.name
        keys.append((check.tier, check.id))
    configured = set(keys)
    keys += sorted(k for k in by_check if k not in configured)
    tier_order = list(config.tiers) + sorted({t for t, _ in keys} - set(config.tiers))

    tiers: dict[str, list[Row]] = {}
    totals: dict[str, Row] = {}
    for tier in tier_order:
        rows = []
        total = Stats()
        for t, cid in keys:
            if t != tier:
                continue
            recs = sorted(by_check.get((t, cid), []), key=lambda r: r.started_at)
            stats = Stats()
            for r in recs:
                stats.add(r)
                total.add(r)
            stats.incident_list = incidents(recs)
            total.incident_list.extend(stats.incident_list)
            rows.append(Row(tier, cid, names.get(cid, cid), stats))
        if rows:
            tiers[tier] = rows
            totals[tier] = Row(tier, "", f"all {tier} checks", total)
    return Report(since, until, getattr(config, "slo", None), tiers, totals, count)


# -- text -----------------------------------------------------------------------------------

PASS, BREACH = "✓", "✗"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _pct(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"


def _dur(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def _mark(ok: bool | None, colour: bool) -> str:
    if ok is None:
        return " "
    if not colour:
        return PASS if ok else BREACH
    return f"\033[32m{PASS}\033[0m" if ok else f"\033[31m{BREACH}\033[0m"


def render_text(report: Report, colour: bool = False, window: str = "") -> str:
    """The table of `healthwatch report`: every figure beside its SLO target, ✓ or ✗."""
    slo = report.slo
    lines = [
        f"healthwatch report · {report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC"
        + (f" ({window})" if window else "")
        + f" · {report.records} results",
    ]
    if slo is not None:
        lines.append(
            f"SLO: uptime ≥ {slo.availability:g}% · p95 ≤ {slo.latency_p95_ms:g} ms · "
            f"error rate ≤ {slo.error_rate:g}%   ({PASS} met, {BREACH} breached)"
        )
    else:
        lines.append("No `slo` in the config: figures without targets.")
    lines.append(
        "Uptime: runs up or degraded. Error rate: failed probe attempts, retried ones included. "
        "Percentiles: nearest rank."
    )
    up_h, err_h, p95_h = "UPTIME", "ERRORS", "P95"
    if slo is not None:  # each figure sits under its target
        up_h += f" ≥{slo.availability:g}%"
        err_h += f" ≤{slo.error_rate:g}%"
        p95_h += f" ≤{slo.latency_p95_ms:g}ms"
    head = (
        "CHECK",
        "RUNS",
        up_h,
        err_h,
        "P50",
        p95_h,
        "P99",
        "INCID.",
        "LONGEST",
        "MTTR",
        "BUDGET LEFT",
    )
    for tier, rows in report.tiers.items():
        table: list[tuple[str, ...]] = []
        marks: list[list[str]] = []
        for row in [*rows, report.totals[tier]]:
            s = row.stats
            t = row.targets(slo)
            label = row.check_id or f"({tier} total)"
            if not s.runs:
                table.append((label, "0", "no data", "", "", "", "", "", "", "", ""))
                marks.append(["", "", ""])
                continue
            left = s.budget_left_pct(slo.availability) if slo is not None else None
            table.append(
                (
                    label,
                    str(s.runs),
                    _pct(s.uptime_pct),
                    _pct(s.error_rate_pct),
                    _ms(s.p(50)),
                    _ms(s.p(95)),
                    _ms(s.p(99)),
                    str(len(s.incident_list)),
                    _dur(s.longest_s(report.until)),
                    _dur(s.mttr_s()),
                    ("n/a" if slo is not None else "-") if left is None else f"{left:.1f}%",
                )
            )
            marks.append(
                [
                    _mark(t[k].ok, colour) if k in t else " "
                    for k in ("availability", "error_rate", "latency_p95_ms")
                ]
            )
        widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(head)]
        lines.append("")
        lines.append(f"{tier}")
        lines.append("  " + _row(head, widths, ("", "", "")))
        for cells, m in zip(table, marks, strict=True):
            lines.append("  " + _row(cells, widths, m))
    if slo is not None:
        breached = [
            f"{row.check_id}:{name}"
            for rows in report.tiers.values()
            for row in rows
            for name, t in row.targets(slo).items()
            if t.ok is False
        ]
        lines.append("")
        if breached:
            import textwrap

            lines += textwrap.wrap(
                f"{BREACH} breached ({len(breached)}): " + ", ".join(breached),
                width=100,
                subsequent_indent="  ",
                break_on_hyphens=False,
            )
        else:
            lines.append(f"{PASS} every check with data meets its SLO")
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str], widths: Sequence[int], marks: Sequence[str]) -> str:
    # Marks follow uptime, errors and p95 (columns 2, 3 and 5).
    mark_at = {2: marks[0], 3: marks[1], 5: marks[2]}
    out = []
    for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
        text = cell.ljust(w) if i == 0 else cell.rjust(w)
        if i in mark_at:
            text += " " + (mark_at[i] or " ")
        out.append(text)
    return "  ".join(out).rstrip()
