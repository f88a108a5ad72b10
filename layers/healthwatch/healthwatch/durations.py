"""Durations as config writes them: a number of seconds or a string with a unit."""

from __future__ import annotations

import math
import re

MAX_DURATION_S = 366 * 86400.0  # a year and a day: anything longer is a slip, not a setting
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Seconds in `value` (`5`, `"500ms"`, `"6h"`, `"1h30m"`); ValueError says what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 5s or 500ms, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"a duration must be a finite number, got {value!r}")
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value!r}")
        return _bounded(float(value), value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 5s or 500ms, got {value!r}")
    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _bounded(float(text), value)
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(
            f"invalid duration {value!r}: use a number of seconds or a number with a unit "
            "(ms, s, m, h, d, w), e.g. 500ms, 5s, 6h, 1h30m"
        )
    return _bounded(total, value)


def _bounded(seconds: float, value: object) -> float:
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration {value!r} is longer than a year: not a setting we accept")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form, e.g. `1h 5m`, `42s`, `350ms`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    s = int(round(seconds))
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs and not days else "",
    ]
    return " ".join(p for p in parts if p) or "0s"
