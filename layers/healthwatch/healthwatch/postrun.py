"""What runs after every tier run, on any backend: the status page, SLO burn rates, reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from healthwatch.config import Config
    from healthwatch.engine import Backend
    from healthwatch.models import TierRun
    from healthwatch.secrets import Secrets


def hooks(config: Config, backend: Backend, secrets: Secrets) -> list[Callable[[TierRun], None]]:
    """The after-run hooks for `backend` (each failure is surfaced by the engine, not lost).

    SLO burn alerts come first, so a status page written after them is current.
    """
    from healthwatch.reliability import ReliabilityLog
    from healthwatch.slo import SloBurnAlerts
    from healthwatch.statuspage import StatusPageWriter

    out: list[Callable[[TierRun], None]] = []
    if config.slo is not None and backend.history is not None:
        out.append(SloBurnAlerts(config, backend, secrets))
    if backend.results is not None:
        out.append(StatusPageWriter(config, backend))
        out.append(ReliabilityLog(config, backend))
    return out
