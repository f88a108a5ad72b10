"""Maintenance windows: which window, if any, covers a check at a moment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from healthwatch.config import MaintenanceWindow

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
