"""The per-check state machine: thresholds, resolve, reminders, maintenance. Pure logic."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from healthwatch.config import Check, MaintenanceWindow
from healthwatch.models import AlertEvent, AlertState, EventKind, Result, iso, parse_iso

RECENT = 5  # results kept in the state for the alert text
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def attempts_allowed(state: AlertState, check: Check) -> int:
    """Attempts this run may make: enough to reach the threshold, one if already alerting."""
    if state.incident_open or not check.setting("retry_interval"):
        return 1
    return max(1, int(check.setting("failure_threshold")) - state.consecutive_failures)


def apply(
    state: AlertState,
    result: Result,
    check: Check,
    now: datetime,
    maintenance: MaintenanceWindow | None = None,
) -> tuple[AlertState, list[AlertEvent]]:
    """The state after `result`, and the events to send. `state` is not modified."""
    new = dataclasses.replace(
        state, recent=list(state.recent), probe_memory=dict(state.probe_memory)
    )
    failed = result.status == "down"
    stamp = iso(now)
    new.status = result.status
    new.last_result_at = result.started_at
    new.recent = (new.recent + [_compact(result)])[-RECENT:]
    if failed:
        if new.consecutive_failures == 0:
            new.failing_since = result.started_at
        new.consecutive_failures += max(1, result.attempts)
        new.consecutive_successes = 0
    else:
        new.consecutive_successes += 1
        new.consecutive_failures = 0
        new.failing_since = None

    events: list[AlertEvent] = []
    threshold = int(check.setting("failure_threshold"))
    if not new.incident_open:
        if failed and new.consecutive_failures >= threshold and maintenance is None:
            new.incident_open = True
            new.incident_kind = "down"
            new.incident_started_at = new.failing_since or result.started_at
            new.last_notified_at = stamp
            events.append(_event("triggered", new, result, check, stamp))
    elif not failed:
        if new.consecutive_successes >= int(check.setting("success_threshold")):
            # Resolved goes out even inside a maintenance window: it closes an incident
            # people were told about, and it is good news.
            events.append(_event("resolved", new, result, check, stamp))
            new.incident_open = False
            new.incident_kind = None
            new.incident_started_at = None
            new.last_notified_at = stamp
    else:
        interval = check.setting("reminder_interval")
        last = parse_iso(new.last_notified_at) if new.last_notified_at else None
        due = last is None or now - last >= timedelta(seconds=interval)
        if interval > 0 and due and maintenance is None:
            new.last_notified_at = stamp
            events.append(_event("reminder", new, result, check, stamp))
    return new, events


def active_window(
    windows: Sequence[MaintenanceWindow], check_id: str, tier: str, now: datetime
) -> MaintenanceWindow | None:
    """The maintenance window covering this check at `now`, if any."""
    for window in windows:
        if window.checks and check_id not in window.checks:
            continue
        if window.tiers and tier not in window.tiers:
            continue
        if _covers(window, now):
            return window
    return None


def _covers(window: MaintenanceWindow, now: datetime) -> bool:
    zone = ZoneInfo(window.timezone)
    if window.start is not None and window.end is not None:
        start = window.start if window.start.tzinfo else window.start.replace(tzinfo=zone)
        end = window.end if window.end.tzinfo else window.end.replace(tzinfo=zone)
        return start <= now < end
    assert window.at is not None and window.duration is not None
    local = now.astimezone(zone)
    hour, minute = (int(x) for x in window.at.split(":"))
    length = timedelta(seconds=window.duration)
    # A window may have started on an earlier day and still be running.
    for back in range(0, int(length.total_seconds() // 86400) + 2):
        day = (local - timedelta(days=back)).date()
        if "day" not in window.every and _DAYS[day.weekday()] not in window.every:
            continue
        begin = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        if begin <= local < begin + length:
            return True
    return False


def _compact(result: Result) -> dict[str, object]:
    return {
        "at": result.started_at,
        "status": result.status,
        "latency_ms": result.latency_ms,
        "error": result.error,
        "attempts": result.attempts,
    }


def _event(
    kind: EventKind, state: AlertState, result: Result, check: Check, stamp: str
) -> AlertEvent:
    return AlertEvent(
        event=kind,
        check_id=check.id,
        check_name=check.name,
        tier=check.tier,
        status=result.status,
        started_at=state.incident_started_at or result.started_at,
        at=stamp,
        error=result.error,
        result=result.to_dict(),
        severity=check.severity,
        target=result.target,
        run_id=result.run_id,
        recent=list(state.recent),
        details={"actions": result.details["actions"]} if result.details.get("actions") else {},
    )
