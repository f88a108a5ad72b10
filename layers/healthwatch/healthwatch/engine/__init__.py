"""The engine: run one tier, from checks to stored results and delivered alerts.

`pipeline.run_tier` reads top to bottom as one run does; `scheduler` decides when each
attempt happens (concurrency, retries, the tier's deadline); `verdict` turns what a probe
saw into a result record; `shards` splits a big tier over invocations, and `regions`
merges what several regions saw by their vote.
"""

from healthwatch.engine.pipeline import Ports, new_run_id, probe_checks, run_tier
from healthwatch.engine.scheduler import RunContext, run_check

__all__ = ["Ports", "RunContext", "new_run_id", "probe_checks", "run_check", "run_tier"]
