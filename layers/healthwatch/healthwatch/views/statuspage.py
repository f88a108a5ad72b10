"""The status page: one self-contained HTML file, kept current by a per-tier rollup."""

from __future__ import annotations

import html
import json
import logging
from array import array
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

from healthwatch.codec import dumps
from healthwatch.durations import format_duration
from healthwatch.models import Result, in_maintenance, iso, parse_iso
from healthwatch.views.report import percentile

if TYPE_CHECKING:
    from healthwatch.config import Config


log = logging.getLogger("healthwatch.statuspage")

DAYS = 90  # daily uptime bars
LATENCY_POINTS = 96  # sparkline: a day of a 15-minute tier
INCIDENTS_KEPT = 20  # per check, in the rollup
RECENT_INCIDENT_DAYS = 14
RUN_IDS_KEPT = 50
# 2: days as columns of counts, latency as values only. A day of version 1 was a mapping of
# its own (about 300 bytes in memory), a latency point a [time, ms] pair: 38 KB a check
# once a quick tier's 90 days and 96 points were full, 380 MB at 10,000 checks. In memory
# the columns are arrays (4 and 8 bytes a number, not a pointer and a float object): 2 KB.
ROLLUP_VERSION = 2
COUNTS = ("up", "degraded", "down", "maintenance")
TITLE = "Service status"


def rollup_key(tier: str, shard: int = 0, shards: int = 1) -> str:
    """One rollup per tier; a split tier keeps one per shard (`rollup-{tier}.shard-{k}.json`),
    each written by its own shard only, so two shards finishing at once lose nothing."""
    return (
        f"status/rollup-{tier}.shard-{shard}.json" if shards > 1 else f"status/rollup-{tier}.json"
    )


def done_key(tier: str, shard: int, shards: int) -> str:
    """The run id a shard of a split tier last folded into its rollup."""
    return f"status/rollup-{tier}.shard-{shard}.done"


# -- rollup: what the page needs, kept per tier so each run reads and writes O(1) -------------


def empty_rollup(tier: str) -> dict[str, Any]:
    return {"version": ROLLUP_VERSION, "tier": tier, "updated_at": None, "runs": [], "checks": {}}


def load_rollup(raw: bytes | None, tier: str) -> dict[str, Any]:
    if not raw:
        return empty_rollup(tier)
    try:
        doc = json.loads(raw, object_hook=_packed)
    except (ValueError, TypeError, OverflowError):  # not JSON, or columns that are not counts
        log.warning("unreadable status rollup; starting a new one", extra={"tier": tier})
        return empty_rollup(tier)
    if isinstance(doc, dict) and doc.get("version") == 1:
        # An upgrade keeps the bars and the sparkline: `_packed` made each check version 2
        # (days as columns, latency as values) as it was read.
        doc["version"] = ROLLUP_VERSION
        return doc
    if not isinstance(doc, dict) or doc.get("version") != ROLLUP_VERSION:
        return empty_rollup(tier)
    return doc


def _packed(obj: dict[str, Any]) -> dict[str, Any]:
    """Each check's columns as arrays as soon as that check is read (a version 1 check made
    version 2 there too): the lists the reader made are garbage at once, so the rollup is
    never held whole as lists, nor as version 1's mappings."""
    if "from" in obj and "up" in obj:  # a check's days
        for k in COUNTS:
            if isinstance(obj.get(k), list):
                obj[k] = array(COUNT_TYPE, obj[k])
    elif isinstance(obj.get("days"), dict) and isinstance(obj.get("latency"), list):
        if "from" not in obj["days"]:  # version 1: {day: {"up": n, ...}}
            days = empty_days()
            for day, counts in sorted(obj["days"].items()):
                add_day(days, day, [int(counts.get(k, 0)) for k in COUNTS])
            obj["days"] = days
        latency = obj["latency"]
        if latency and isinstance(latency[0], list):  # version 1: [time, ms] pairs
            latency = [pair[1] for pair in latency]
        obj["latency"] = array(LATENCY_TYPE, latency)
    return obj


def write_rollup(out: BinaryIO, doc: Mapping[str, Any]) -> None:
    """The rollup as JSON into `out`, check by check: at 10,000 checks the document is 5 MB
    on a first run and 16 MB after 90 days, never one bytes object here."""
    head = {k: v for k, v in doc.items() if k != "checks"}
    out.write(dumps(head, default=plain)[:-1] + b',"checks":{' if head else b'{"checks":{')
    for i, (check_id, check) in enumerate(doc["checks"].items()):
        out.write((b"," if i else b"") + dumps(check_id) + b":" + dumps(check, default=plain))
    out.write(b"}}")


def plain(value: object) -> object:
    """For the JSON encoder: a rollup's arrays are written as lists."""
    if isinstance(value, array):
        return value.tolist()
    return str(value)


# -- days: {"from": first day, "up": [...], "degraded": [...], ...}, one entry a day -------


COUNT_TYPE, LATENCY_TYPE = "I", "d"  # results a day (unsigned 32 bits), milliseconds


def empty_days() -> dict[str, Any]:
    return {"from": None, **{k: array(COUNT_TYPE) for k in COUNTS}}


def _ordinal(day: str) -> int:
    return date.fromisoformat(day).toordinal()


def _slot(days: dict[str, Any], day: str) -> int:
    """The index of `day` in the columns, which grow (with zeros) to hold it."""
    if days["from"] is None:
        days["from"] = day
        for k in COUNTS:
            days[k].append(0)
        return 0
    at = _ordinal(day) - _ordinal(days["from"])
    if at < 0:  # a late result of a day before the first: the columns start there
        for k in COUNTS:
            days[k][:0] = array(COUNT_TYPE, [0]) * -at
        days["from"], at = day, 0
    grow = at + 1 - len(days["up"])
    if grow > 0:
        for k in COUNTS:
            days[k].extend([0] * grow)
    return at


def add_day(days: dict[str, Any], day: str, counts: list[int]) -> None:
    i = _slot(days, day)
    for k, n in zip(COUNTS, counts, strict=True):
        days[k][i] += n


def _prune(days: dict[str, Any], oldest: str) -> None:
    """Drop the days before `oldest` (and the columns' leading empty days)."""
    if days["from"] is None:
        return
    drop = max(0, _ordinal(oldest) - _ordinal(days["from"]))
    rows = len(days["up"])
    while drop < rows and not any(days[k][drop] for k in COUNTS):
        drop += 1
    if drop >= rows:
        days.update(empty_days())
    elif drop:
        for k in COUNTS:
            del days[k][:drop]
        days["from"] = date.fromordinal(_ordinal(days["from"]) + drop).isoformat()


def day_counts(days: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The days that have results, as `{day: {"up": n, ...}}` (for reading, not storing)."""
    if days.get("from") is None:
        return {}
    first = _ordinal(days["from"])
    out = {}
    for i, row in enumerate(zip(*(days[k] for k in COUNTS), strict=True)):
        if any(row):
            out[date.fromordinal(first + i).isoformat()] = dict(zip(COUNTS, row, strict=True))
    return out


def merge(
    doc: dict[str, Any],
    records: Iterable[Result],
    now: datetime,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Fold result records (oldest first) into the rollup: daily counts, last result, recent
    latencies, incidents. A run already folded in (same `run_id`) is skipped."""
    if run_id is not None:
        if run_id in doc["runs"]:
            return doc
        doc["runs"] = (doc["runs"] + [run_id])[-RUN_IDS_KEPT:]
    for r in sorted(records, key=lambda r: r.started_at):
        c = doc["checks"].get(r.check_id)
        if c is None:
            c = doc["checks"][r.check_id] = {
                "name": r.check_name or r.check_id,
                "type": r.type,
                "target": r.target,
                "last": None,
                "days": empty_days(),
                "latency": array(LATENCY_TYPE),
                "incidents": [],
            }
        c["name"] = r.check_name or c["name"]
        at = r.started_at
        days = c["days"]
        maintenance = in_maintenance(r)
        days["maintenance" if maintenance else r.status][_slot(days, at[:10])] += 1
        if c["last"] is not None and at < c["last"]["at"]:
            continue  # a late, older result: counted in its day, but not the newest state
        c["last"] = {
            "at": at,
            "status": r.status,
            "latency_ms": r.latency_ms,
            "error": r.error,
            "maintenance": maintenance,
        }
        if r.latency_ms is not None:
            latency = c["latency"]
            latency.append(r.latency_ms)
            del latency[:-LATENCY_POINTS]
        if maintenance:
            continue
        incidents = c["incidents"]
        current = incidents[-1] if incidents and incidents[-1]["ended_at"] is None else None
        if r.status == "down":
            if current is None:
                incidents.append(
                    {"started_at": at, "ended_at": None, "error": r.error, "results": 1}
                )
            else:
                current["results"] += 1
                current["error"] = r.error or current["error"]
        elif current is not None:
            current["ended_at"] = at
        del incidents[:-INCIDENTS_KEPT]
    oldest = (now - timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")
    for c in doc["checks"].values():
        _prune(c["days"], oldest)
    doc["updated_at"] = iso(now)
    return doc


def combine(docs: list[dict[str, Any]], tier: str) -> dict[str, Any]:
    """The shards' rollups of one tier as one. A check moved between shards (the tier grew,
    or `shard_size` changed) is in more than one: its day counts add up (each result was
    counted by one shard only), and the newest state, latencies and incidents win."""
    docs = [d for d in docs if d["checks"] or d["runs"]]
    if len(docs) <= 1:
        return docs[0] if docs else empty_rollup(tier)
    out = empty_rollup(tier)
    out["updated_at"] = max((d["updated_at"] or "" for d in docs), default=None) or None
    out["runs"] = sorted({r for d in docs for r in d["runs"]})[-RUN_IDS_KEPT:]
    checks: dict[str, Any] = out["checks"]
    for doc in docs:
        for cid, c in doc["checks"].items():
            have = checks.get(cid)
            if have is None:
                checks[cid] = c
                continue
            days = empty_days()
            for one in (have["days"], c["days"]):
                for day, counts in day_counts(one).items():
                    add_day(days, day, [counts[k] for k in COUNTS])
            newer, older = (c, have) if _last_at(c) > _last_at(have) else (have, c)
            checks[cid] = {
                **newer,
                "days": days,
                # The shard the check left stopped measuring it: its points come first.
                "latency": (older["latency"] + newer["latency"])[-LATENCY_POINTS:],
                "incidents": sorted(
                    older["incidents"] + newer["incidents"], key=lambda i: i["started_at"]
                )[-INCIDENTS_KEPT:],
            }
    return out


def _last_at(check: Mapping[str, Any]) -> str:
    return str((check.get("last") or {}).get("at") or "")


def build_rollups(records: Iterable[Result], now: datetime) -> dict[str, dict[str, Any]]:
    """The rollups the after-run hook would have built, from history (`healthwatch status-page`)."""
    by_tier: dict[str, list[Result]] = {}
    for r in records:
        by_tier.setdefault(r.tier, []).append(r)
    return {tier: merge(empty_rollup(tier), recs, now) for tier, recs in by_tier.items()}


# -- rendering ------------------------------------------------------------------------------

LABELS = {"up": "Operational", "degraded": "Degraded", "down": "Down", None: "No data"}
OVERALL = {
    "up": ("All systems operational", "up"),
    "degraded": ("Degraded performance", "degraded"),
    "partial": ("Partial outage", "down"),
    "down": ("Major outage", "down"),
    None: ("No data yet", "none"),
}

CSS = """
:root{--bg:#f6f7f9;--card:#fff;--text:#1d232b;--muted:#5b6673;--line:#e3e6ea;
--up:#2ea043;--degraded:#d4a72c;--down:#d1242f;--partial:#e8812c;--none:#c9ced6}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--card:#181c22;--text:#e6e9ed;
--muted:#9aa4b0;--line:#2a3039;--none:#3a414b}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);
font:15px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:780px;margin:0 auto;padding:16px}
h1{font-size:1.35rem;margin:8px 0 12px}
h2{font-size:1.05rem;margin:24px 0 8px}
.banner{border-radius:10px;padding:14px 16px;color:#fff;font-weight:600;font-size:1.1rem}
.banner.up{background:var(--up)}.banner.degraded{background:var(--degraded)}
.banner.down{background:var(--down)}.banner.none{background:var(--none);color:var(--text)}
.muted{color:var(--muted);font-size:.85rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px;
margin:10px 0}
.head{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 10px}
.name{font-weight:600;flex:1 1 auto;min-width:0;overflow-wrap:anywhere}
.pill{border-radius:999px;padding:1px 10px;font-size:.8rem;font-weight:600;color:#fff;
white-space:nowrap}
.pill.up{background:var(--up)}.pill.degraded{background:var(--degraded)}
.pill.down{background:var(--down)}.pill.none{background:var(--none);color:var(--text)}
.facts{display:flex;flex-wrap:wrap;gap:2px 14px;margin:4px 0 8px}
svg{display:block;width:100%}
.bars{height:34px}.spark{height:36px}
.axis{display:flex;justify-content:space-between}
rect.up{fill:var(--up)}rect.degraded{fill:var(--degraded)}rect.partial{fill:var(--partial)}
rect.down{fill:var(--down)}rect.none{fill:var(--none)}
polyline{fill:none;stroke:var(--muted);stroke-width:1.5;vector-effect:non-scaling-stroke}
ul.incidents{list-style:none;padding:0;margin:0}
ul.incidents li{background:var(--card);border:1px solid var(--line);
border-left:4px solid var(--down);border-radius:8px;padding:8px 12px;margin:8px 0;
overflow-wrap:anywhere}
ul.incidents li.resolved{border-left-color:var(--up)}
footer{margin:28px 0 8px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def overall_state(statuses: Iterable[str | None]) -> str | None:
    seen = [s for s in statuses if s is not None]
    if not seen:
        return None
    if all(s == "down" for s in seen):
        return "down"
    if "down" in seen:
        return "partial"
    return "degraded" if "degraded" in seen else "up"


def day_class(counts: Mapping[str, int] | None) -> tuple[str, float | None]:
    """Colour class and uptime % of one day: green without a down run, then by how bad."""
    if not counts:
        return "none", None
    runs = counts.get("up", 0) + counts.get("degraded", 0) + counts.get("down", 0)
    if runs == 0:
        return "none", None
    pct = 100 * (runs - counts.get("down", 0)) / runs
    if counts.get("down", 0) == 0:
        return ("degraded" if counts.get("degraded", 0) else "up"), pct
    return ("partial" if pct >= 95 else "down"), pct


# Distinct bar strips kept during one render: checks with the same days share one, and a
# page whose every check has days of its own holds this many strips at most, not all.
STRIPS_KEPT = 256


class _BarCache:
    """The bars of one render, built once per distinct strip: most checks share most of
    their days (a day of 96 passing runs looks the same on every check), so 10,000
    checks cost about as many distinct days as they have, not 900,000 formatted rects."""

    def __init__(self, today: date) -> None:
        self.days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
        self.first = self.days[0].toordinal()
        self.rects: dict[tuple[int, int, int, int], str] = {}
        self.svgs: dict[tuple[Any, ...], str] = {}

    def svg(self, days: Mapping[str, Any]) -> str:
        if days.get("from") is None:
            key: tuple[Any, ...] = ()
        else:
            offset = _ordinal(days["from"]) - self.first
            key = (offset, tuple(days["up"]), tuple(days["degraded"]), tuple(days["down"]))
        cached = self.svgs.get(key)
        if cached is None:
            cached = _svg([self._rect(i, self._counts(key, i)) for i in range(DAYS)])
            if len(self.svgs) >= STRIPS_KEPT:
                del self.svgs[next(iter(self.svgs))]
            self.svgs[key] = cached
        return cached

    @staticmethod
    def _counts(key: tuple[Any, ...], i: int) -> tuple[int, int, int]:
        if not key:
            return (0, 0, 0)
        offset, up, degraded, down = key
        j = i - offset
        if 0 <= j < len(up):
            return (up[j], degraded[j], down[j])
        return (0, 0, 0)

    def _rect(self, i: int, counts: tuple[int, int, int]) -> str:
        key = (i, *counts)
        rect = self.rects.get(key)
        if rect is None:
            up, degraded, down = counts
            rect = self.rects[key] = _rect(
                i,
                self.days[i],
                {"up": up, "degraded": degraded, "down": down} if any(counts) else None,
            )
        return rect


BAR_W, BAR_GAP = 4, 1


_SVG_START = '<svg class="bars"'


def _svg(rects: list[str]) -> str:
    width = DAYS * (BAR_W + BAR_GAP) - BAR_GAP
    return (
        f'<svg class="bars" viewBox="0 0 {width} 34" preserveAspectRatio="none" '
        f'role="img" aria-label="Daily uptime, last {DAYS} days">' + "".join(rects) + "</svg>"
    )


def _rect(i: int, d: date, counts: Mapping[str, int] | None) -> str:
    w, gap = BAR_W, BAR_GAP
    cls, pct = day_class(counts)
    if pct is None:
        tip = f"{d:%b %d}: no data"
    else:
        assert counts is not None
        runs = sum(counts.get(k, 0) for k in ("up", "degraded", "down"))
        tip = f"{d:%b %d}: {pct:.2f}% up ({runs} runs, {counts.get('down', 0)} down)"
    return (
        f'<rect class="{cls}" x="{i * (w + gap)}" y="0" width="{w}" height="34" '
        f'rx="1"><title>{_e(tip)}</title></rect>'
    )


def _sparkline(points: list[float]) -> str:
    values = [float(v) for v in points]
    if len(values) < 2:
        return '<p class="muted">Not enough latency data for a trend yet.</p>'
    top = max(values) or 1.0
    n = len(values) - 1
    coords = " ".join(
        f"{i * 300 / n:.1f},{36 - 2 - (v / top) * 32:.1f}" for i, v in enumerate(values)
    )
    ordered = sorted(values)
    label = (
        f"Latency of the last {len(values)} results: median {percentile(ordered, 50):.0f} ms, "
        f"p95 {percentile(ordered, 95):.0f} ms, max {ordered[-1]:.0f} ms"
    )
    return (
        f'<svg class="spark" viewBox="0 0 300 36" preserveAspectRatio="none" role="img" '
        f'aria-label="{_e(label)}"><title>{_e(label)}</title>'
        f'<polyline points="{coords}"/></svg>'
        f'<div class="muted">{_e(label)}</div>'
    )


def _uptime(days: Mapping[str, Any]) -> float | None:
    if days.get("from") is None:
        return None
    down = sum(days["down"])
    runs = sum(days["up"]) + sum(days["degraded"]) + down
    return None if runs == 0 else 100 * (runs - down) / runs


def _ago(seconds: float) -> str:
    return format_duration(max(0.0, round(seconds / 60) * 60)) if seconds >= 60 else "under 1m"


def render(
    config: Config,
    rollups: Mapping[str, Mapping[str, Any]],
    now: datetime,
    title: str = TITLE,
) -> str:
    """The page: overall state, each check (status, latency, 90 daily bars, sparkline),
    open and recent incidents. No scripts, fonts or images from anywhere else."""
    return "".join(render_parts(config, rollups, now, title))


def render_into(
    out: BinaryIO,
    config: Config,
    rollups: Mapping[str, Mapping[str, Any]],
    now: datetime,
    title: str = TITLE,
) -> None:
    """`render`, written to `out` as it is made: the page (about 10 KB a check, 100 MB at
    10,000) is never whole in memory, nor are its cards; a bar strip that checks share is
    encoded once (kept with its text, so its id cannot be another string's)."""
    encoded: dict[int, tuple[str, bytes]] = {}
    for part in render_parts(config, rollups, now, title):
        if not part.startswith(_SVG_START):
            out.write(part.encode())
            continue
        cached = encoded.get(id(part))
        if cached is None or cached[0] is not part:
            if len(encoded) >= STRIPS_KEPT:
                del encoded[next(iter(encoded))]
            cached = encoded[id(part)] = (part, part.encode())
        out.write(cached[1])


def render_parts(
    config: Config,
    rollups: Mapping[str, Mapping[str, Any]],
    now: datetime,
    title: str = TITLE,
) -> Iterator[str]:
    """The page as fragments, made as they are taken; a bar strip shared by several checks
    is one string object. The head (overall state, open incidents) needs every check, so
    a first pass reads their last results and incidents, and the cards follow one by one."""
    today = now.astimezone(UTC).date()
    bars = _BarCache(today)
    statuses: list[str | None] = []
    open_items: list[tuple[str, str]] = []
    recent_items: list[tuple[str, str]] = []
    recent_since = iso(now - timedelta(days=RECENT_INCIDENT_DAYS))
    sections = [(tier, conf, config.checks_for(tier)) for tier, conf in config.tiers.items()]
    sections = [s for s in sections if s[2]]
    for tier, _, checks in sections:
        for check in checks:
            data = _check_data(rollups, tier, check.id)
            last = data.get("last")
            statuses.append(last["status"] if last else None)
            _incidents(check, data, now, recent_since, open_items, recent_items)
    text, cls = OVERALL[overall_state(statuses)]
    open_html = (
        "".join(h for _, h in sorted(open_items, reverse=True))
        or '<li class="resolved">No open incidents.</li>'
    )
    recent_html = (
        "".join(h for _, h in sorted(recent_items, reverse=True)[:10])
        or f'<p class="muted">No incidents in the last {RECENT_INCIDENT_DAYS} days.</p>'
    )
    if recent_items:
        recent_html = f'<ul class="incidents">{recent_html}</ul>'
    yield (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="refresh" content="300">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1>"
        f'<div class="banner {cls}" id="overall" data-state="{cls}">{_e(text)}</div>'
        f'<h2>Open incidents</h2><ul class="incidents" id="open-incidents">{open_html}</ul>'
    )
    for tier, tier_conf, checks in sections:
        yield f"<h2>{_e(tier_conf.description or tier.capitalize())}</h2>"
        for check in checks:
            yield from _card(check, _check_data(rollups, tier, check.id), bars, now)
    yield (
        f'<h2>Recent incidents</h2><div id="recent-incidents">{recent_html}</div>'
        f'<footer class="muted">Updated {_e(_when(iso(now)))} · healthwatch</footer>'
        "</main></body></html>\n"
    )


def _check_data(
    rollups: Mapping[str, Mapping[str, Any]], tier: str, check_id: str
) -> Mapping[str, Any]:
    data: Mapping[str, Any] = rollups.get(tier, {}).get("checks", {}).get(check_id, {})
    return data


def _card(check: Any, data: Mapping[str, Any], bars: _BarCache, now: datetime) -> list[str]:
    """One check's card: name, status, latency, uptime, its 90 bars and its sparkline."""
    last = data.get("last")
    status = last["status"] if last else None
    pill = status or "none"
    latency = f"{last['latency_ms']:.0f} ms" if last and last.get("latency_ms") is not None else "—"
    days = data.get("days") or empty_days()
    up = _uptime(days)
    facts = [
        f"<span>Latency {_e(latency)}</span>",
        f"<span>{'—' if up is None else f'{up:.2f}%'} uptime, {DAYS} days</span>",
    ]
    if last:
        ago = _ago((now - parse_iso(last["at"])).total_seconds())
        facts.append(f'<span class="muted">checked {_e(ago)} ago</span>')
    if last and last.get("status") == "down" and last.get("error"):
        facts.append(f'<span class="muted">{_e(str(last["error"])[:140])}</span>')
    return [
        f'<section class="card check" data-check="{_e(check.id)}" data-status="{pill}">'
        f'<div class="head"><span class="name">{_e(check.name)}</span>'
        f'<span class="pill {pill}">{_e(LABELS[status])}</span></div>'
        f'<div class="facts">{"".join(facts)}</div>',
        bars.svg(days),
        f'<div class="axis muted"><span>{DAYS} days ago</span><span>today</span></div>'
        f"{_sparkline(data.get('latency', []))}"
        f"{_links(check)}"
        "</section>",
    ]


def _incidents(
    check: Any,
    data: Mapping[str, Any],
    now: datetime,
    recent_since: str,
    open_items: list[tuple[str, str]],
    recent_items: list[tuple[str, str]],
) -> None:
    """The check's open incidents, and those resolved since `recent_since`, as list items."""
    for inc in data.get("incidents", []):
        what = f"<strong>{_e(check.name)}</strong>"
        err = f" — {_e(str(inc['error'])[:160])}" if inc.get("error") else ""
        if inc["ended_at"] is None:
            dur = _ago((now - parse_iso(inc["started_at"])).total_seconds())
            open_items.append(
                (
                    inc["started_at"],
                    (
                        f'<li class="open">{what}: down since '
                        f"{_e(_when(inc['started_at']))} "
                        f"({_e(dur)}){err}</li>"
                    ),
                )
            )
        elif inc["ended_at"] >= recent_since:
            dur = format_duration(
                (parse_iso(inc["ended_at"]) - parse_iso(inc["started_at"])).total_seconds()
            )
            recent_items.append(
                (
                    inc["started_at"],
                    (
                        f'<li class="resolved">{what}: down {_e(_when(inc["started_at"]))} '
                        f"for {_e(dur)}, resolved{err}</li>"
                    ),
                )
            )


def _links(check: Any) -> str:
    """The check's runbook and links, for whoever opens the page during an incident."""
    found = ([("runbook", check.runbook)] if check.runbook else []) + sorted(check.links.items())
    if not found:
        return ""
    items = " · ".join(f'<a href="{_e(url)}" rel="noopener">{_e(name)}</a>' for name, url in found)
    return f'<div class="links muted">{items}</div>'


def _when(stamp: str) -> str:
    return parse_iso(stamp).strftime("%Y-%m-%d %H:%M UTC")
