"""JSON out: the one compact encoder for what the engine writes on every run.

Records, alert states and rollups are serialised per check per run; orjson does it about
ten times faster than the json module's C encoder. Reading stays with the json module:
orjson reads an integer past 64 bits as a float, and a stored value must read back as it
was written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS  # as json: {1: ...} is written {"1": ...}
    | orjson.OPT_PASSTHROUGH_DATETIME  # as json with default=str: str(value)
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps(value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] = str) -> bytes:
    """Compact UTF-8 JSON; what JSON cannot hold is written as `default(value)`."""
    option = _OPTIONS | orjson.OPT_SORT_KEYS if sort_keys else _OPTIONS
    try:
        out = orjson.dumps(value, default=default, option=option)
    except orjson.JSONEncodeError:
        # An integer past 64 bits (a target's body may hold one) or nesting past 254
        # levels: the json module writes both.
        text = json.dumps(
            value, separators=(",", ":"), sort_keys=sort_keys, default=default, ensure_ascii=False
        )
        return text.encode()
    # orjson's answer keeps the whole buffer it grew (about 8 KB for a 400-byte record:
    # 80 MB for 10,000 result lines kept until stored). A small one is copied to its size;
    # a big one is written and dropped at once.
    return bytes(memoryview(out)) if len(out) < KEEP_AS_IS else out


KEEP_AS_IS = 64 << 10
