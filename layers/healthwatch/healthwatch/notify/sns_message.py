"""What arrives on the alert topic: our alert events, and CloudWatch alarms about the monitor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from healthwatch.durations import format_duration
from healthwatch.models import AlertEvent, iso

SELF_TIER = "self-monitoring"


def alert_from_message(message: str) -> AlertEvent | None:
    """The alert event in an SNS message body, or None for a message with nothing to post.

    The topic carries two kinds: healthwatch's alert events, and the CloudWatch alarms that
    watch healthwatch itself (a tier's heartbeat missing, a function failing). An alarm
    becomes an event of the `self-monitoring` tier, so chat hears about a silent monitor too.
    """
    data: Any = json.loads(message)
    if not isinstance(data, dict):
        raise ValueError("the SNS message is not a JSON object")
    if "AlarmName" in data and "NewStateValue" in data:
        return _from_alarm(data)
    return AlertEvent.from_dict(data)


def _from_alarm(alarm: dict[str, Any]) -> AlertEvent | None:
    state = alarm.get("NewStateValue")
    if state not in ("ALARM", "OK") or (state == "OK" and alarm.get("OldStateValue") != "ALARM"):
        return None  # INSUFFICIENT_DATA, or OK after OK/INSUFFICIENT_DATA: nothing resolved
    name = str(alarm.get("AlarmName", "alarm"))
    changed = _stamp(alarm.get("StateChangeTime"))
    firing = state == "ALARM"
    trigger = alarm.get("Trigger") or {}
    meaning = alarm_meaning(alarm)
    return AlertEvent(
        event="triggered" if firing else "resolved",
        check_id=name,
        check_name=str(alarm.get("AlarmDescription") or name)[:200],
        tier=SELF_TIER,
        status="down" if firing else "up",
        started_at=changed,
        at=changed,
        error=str(alarm.get("NewStateReason") or "")[:1000] if firing else None,
        result={},
        severity="critical",
        target=f"cloudwatch:{trigger.get('Namespace', '')}/{trigger.get('MetricName', '')}",
        details={
            "alarm": name,
            "region": alarm.get("Region"),
            "account": alarm.get("AWSAccountId"),
        },
        reason=meaning if firing else f"back to normal: {meaning}",
    )


def alarm_meaning(alarm: dict[str, Any]) -> str:
    """What the alarm means for the monitor, in words: a missing heartbeat is the monitor
    itself not running, which is worth saying plainly."""
    trigger = alarm.get("Trigger") or {}
    if trigger.get("MetricName") == "Heartbeat":
        dims = {d.get("name"): d.get("value") for d in trigger.get("Dimensions") or []}
        tier = dims.get("tier") or "a"
        window = float(trigger.get("Period") or 0) * float(trigger.get("EvaluationPeriods") or 1)
        span = f" for {format_duration(window)}" if window else ""
        return f"no heartbeat from the {tier} tier{span}: the monitor itself has not run"
    description = str(alarm.get("AlarmDescription") or alarm.get("AlarmName") or "an alarm")
    return description.rstrip(". ")


def _stamp(text: Any) -> str:
    """CloudWatch's `2026-11-26T21:30:00.123+0000` in the record format."""
    if isinstance(text, str):
        for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
            try:
                return iso(datetime.strptime(text, fmt))
            except ValueError:
                continue
    return iso(datetime.now(UTC))
