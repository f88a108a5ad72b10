"""How an alert reads to a person, in every channel: headline, tag, facts, next steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from healthwatch.durations import format_duration
from healthwatch.models import AlertEvent, parse_iso
from healthwatch.notify.sns_message import SELF_TIER

RECENT_SHOWN = 5


def tag(event: AlertEvent) -> str:
    """`DOWN`, `DEGRADED`, `RESOLVED`, `REMINDER` or `SLO BURN`: the word a subject starts with."""
    if event.event == "triggered":
        return event.status.upper() if event.status != "up" else "ALERT"
    return {
        "resolved": "RESOLVED",
        "reminder": "REMINDER",
        "slo_burn": "SLO BURN",
        "config_problem": "CONFIG PROBLEM",
    }.get(event.event, str(event.event).upper())


def headline(event: AlertEvent) -> str:
    """One sentence: what happened to which check."""
    name = event.check_name or event.check_id
    kind = event.event
    if event.tier == SELF_TIER and event.reason:  # a CloudWatch alarm about the monitor
        return event.reason[0].upper() + event.reason[1:]
    if kind == "resolved" and event.details.get("incident") == "slo_burn":
        took = elapsed(event)
        return f"{name} is no longer burning its error budget" + (f" after {took}" if took else "")
    if kind == "resolved":
        took = elapsed(event)
        return f"{name} is back up" + (f" after {took} {event_problem(event)}" if took else "")
    if kind == "reminder":
        took = elapsed(event)
        return f"{name} is still {event.status.upper()}" + (f", for {took} now" if took else "")
    if kind == "slo_burn":
        return f"{name} is burning its error budget"
    if kind == "config_problem":
        return f"{name} cannot be checked: its config has a problem"
    if kind == "remediated":
        return (
            f"healthwatch acted on {name}: {event.reason}"
            if event.reason
            else f"healthwatch acted on {name}"
        )
    return f"{name} is {event.status.upper()}"


def event_problem(event: AlertEvent) -> str:
    """`down` or `degraded`: what the incident was, for a resolved event whose status is `up`."""
    for item in event.recent:
        if item.get("status") in ("down", "degraded"):
            return str(item["status"])
    return "down"


def when(text: str | None) -> str:
    """`2026-11-26 20:45 UTC` from a record timestamp (the text itself if it does not parse)."""
    ts = _parse(text)
    if ts is None:
        return text or "unknown"
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def elapsed(event: AlertEvent) -> str | None:
    """How long the incident has lasted at `event.at` (`1h 5m`), or None if unknown."""
    start, now = _parse(event.started_at), _parse(event.at)
    if start is None or now is None or now < start:
        return None
    return format_duration((now - start).total_seconds())


def latency_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return f"{float(value):.0f} ms"
    except (TypeError, ValueError):
        return None


def failed_conditions(event: AlertEvent) -> list[str]:
    """The resolved text of each failed condition, e.g. `[STATUS] (500) == 200`."""
    out = []
    for cond in event.result.get("conditions") or []:
        if isinstance(cond, dict) and not cond.get("success", True):
            out.append(str(cond.get("detail") or cond.get("condition") or "?"))
    return out


def recent_results(event: AlertEvent, limit: int = RECENT_SHOWN) -> list[str]:
    """The last few results, newest first, one short line each."""
    items = [r for r in event.recent if isinstance(r, dict)]
    items.sort(key=lambda r: str(r.get("at") or ""), reverse=True)
    lines = []
    for item in items[:limit]:
        ts = _parse(item.get("at"))
        stamp = ts.strftime("%m-%d %H:%M") if ts else str(item.get("at") or "?")
        parts = [stamp, str(item.get("status") or "?")]
        latency = latency_text(item.get("latency_ms"))
        if latency:
            parts.append(latency)
        if item.get("error"):
            parts.append(one_line(str(item["error"]), 80))
        lines.append("  ".join(parts))
    return lines


def actions(event: AlertEvent) -> list[str]:
    """What a person can do next, most useful first."""
    history = f"healthwatch history --check {event.check_id} --since 24h"
    if event.event == "resolved":
        return [f"Nothing to do. The incident's results: {history}"]
    steps = []
    if event.action:
        steps.append(event.action)
    if event.runbook:
        steps.append(f"Follow the runbook: {event.runbook}")
    if event.event == "slo_burn":
        steps.append("See the SLO report: healthwatch report --since 30d")
    if event.target.startswith(("http://", "https://")):
        steps.append(f"Open the target: {event.target}")
    elif event.target:
        steps.append(f"Check the target: {event.target}")
    steps.append(f"See its history: {history}")
    steps.append(f"Re-run the tier: healthwatch run --tier {event.tier}")
    return steps


def links(event: AlertEvent) -> list[tuple[str, str]]:
    """(name, URL) of the runbook and the check's links, for every channel to show."""
    out = [("runbook", event.runbook)] if event.runbook else []
    return out + sorted(event.links.items())


def detail_lines(details: dict[str, Any], limit: int = 10) -> list[str]:
    """`key: value` for the scalar entries of `event.details` (the SLO burn figures, say)."""
    lines = []
    for key, value in list(details.items())[:limit]:
        if isinstance(value, dict | list):
            continue
        lines.append(f"{key.replace('_', ' ')}: {one_line(str(value), 120)}")
    return lines


def one_line(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters (an ellipsis marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def _parse(text: Any) -> datetime | None:
    if not text or not isinstance(text, str):
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None


def facts(event: AlertEvent, since: str) -> list[tuple[str, str]]:
    """The short facts a chat message shows beside an alert, as (name, plain value) pairs.

    `since` is the incident's start already written the provider's way (a date token).
    """
    result = event.result or {}
    out = [
        ("Check", event.check_id),
        ("State", event.status),
        ("Tier", event.tier),
        ("Since" if event.event != "resolved" else "Down since", since),
    ]
    took = elapsed(event)
    if took:
        out.append(("Duration", took))
    latency = latency_text(result.get("latency_ms"))
    if latency:
        out.append(("Latency", latency))
    if result.get("attempts") is not None:
        out.append(("Attempts", str(result["attempts"])))
    if result.get("http_status") is not None:
        out.append(("HTTP", str(result["http_status"])))
    out.append(("Severity", event.severity))
    return out
