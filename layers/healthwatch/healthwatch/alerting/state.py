"""The per-check state machine: thresholds, resolve, reminders. Pure: no I/O, no clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from healthwatch.config import Check, MaintenanceWindow

if TYPE_CHECKING:
    from healthwatch.alerting.silences import Silence
from healthwatch.models import (
    AlertEvent,
    AlertState,
    EventKind,
    Result,
    is_config_problem,
    iso,
    parse_iso,
)

RECENT = 5  # results kept in the state for the alert text


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
    maintenance: MaintenanceWindow | Silence | None = None,
) -> tuple[AlertState, list[AlertEvent]]:
    """The state after `result`, and the events to send. `state` is not modified.

    `maintenance`: the window or silence covering the check now; `triggered` and
    reminders are held back under it, `resolved` is not."""
    new = state.copy()
    failed = result.status == "down"
    stamp = iso(now)
    new.status = result.status
    new.tier = result.tier
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
    config = is_config_problem(result)
    if config and new.config_problem != result.error:  # a new problem: said once
        new.config_problem = result.error
        events.append(_event("config_problem", new, result, check, stamp))
    elif not config and new.config_problem:
        new.config_problem = None  # fixed
    if not new.incident_open:
        # A config problem pages as itself (above), not as an outage of the target.
        if failed and new.consecutive_failures >= threshold and maintenance is None and not config:
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
    actions = result.details.get("actions") or []
    if actions:  # the probe acted (a restart): announced once, with what, why and the outcome
        remediated = _event("remediated", new, result, check, stamp)
        remediated.reason = "; ".join(_action_text(a) for a in actions)[:300]
        events.append(remediated)
    return new, events


def _action_text(action: dict[str, object]) -> str:
    """`restart 0901 (checks critical for 2 runs: hc): done`, from a probe's action record."""
    what = f"{action.get('action', 'acted')} {action.get('machine_id') or ''}".strip()
    why = action.get("reason")
    outcome = "done" if action.get("ok") else f"failed ({action.get('error')})"
    return what + (f" ({why})" if why else "") + f": {outcome}"


def _compact(result: Result) -> dict[str, object]:
    return {
        "at": result.started_at,
        "status": result.status,
        "latency_ms": result.latency_ms,
        "error": result.error,
        "attempts": result.attempts,
    }


def event_for(
    kind: EventKind, check: Check, result: Result, *, started_at: str, at: str, **fields: Any
) -> AlertEvent:
    """An event about `check` after `result`: what every kind shares (the check, the result,
    the runbook and links); `fields` are the kind's own (error, reason, details, ...)."""
    return AlertEvent(
        event=kind,
        check_id=check.id,
        check_name=check.name,
        tier=check.tier,
        status=result.status,
        started_at=started_at,
        at=at,
        error=fields.pop("error", result.error),
        result=result.to_dict(),
        severity=check.severity,
        target=result.target,
        run_id=result.run_id,
        runbook=check.runbook or "",
        links=dict(check.links),
        **fields,
    )


def _event(
    kind: EventKind, state: AlertState, result: Result, check: Check, stamp: str
) -> AlertEvent:
    return event_for(
        kind,
        check,
        result,
        started_at=state.incident_started_at or result.started_at,
        at=stamp,
        recent=list(state.recent),
        details={"actions": result.details["actions"]} if result.details.get("actions") else {},
        **explained(result),
    )


def explained(result: Result) -> dict[str, object]:
    """The event's `reason` (what broke, one line) and `action` (what to do)."""
    reason = " ".join((result.error or "").split())
    if not reason and result.status == "degraded":
        warned = [
            w.get("detail", "") for w in result.details.get("warnings", []) if not w.get("success")
        ]
        reason = "; ".join(warned) or str(result.details.get("reason") or "")
    if not reason and result.status == "up":
        reason = f"{result.check_name} answered as expected"
    return {
        "reason": reason[:300],
        "action": " ".join(str(result.details.get("action") or "").split())[:300],
    }
