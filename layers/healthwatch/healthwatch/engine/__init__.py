"""The engine: run one tier, from checks to stored results and delivered alerts.

`pipeline.run_tier` reads top to bottom as one run does; `scheduler` decides when each
attempt happens (concurrency, retries, the tier's deadline); `verdict` turns what a probe
saw into a result record.
"""

from healthwatch.engine.pipeline import Ports, new_run_id, run_tier
from healthwatch.engine.scheduler import RunContext, run_check

__all__ = ["Ports", "RunContext", "new_run_id", "run_check", "run_tier"]
