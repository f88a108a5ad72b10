"""When each attempt runs: checks in parallel, failures re-probed, all under the tier deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from healthwatch import alerting
from healthwatch.engine.verdict import failure, judge, observe
from healthwatch.errors import ErrorKind
from healthwatch.models import AlertState, Result, iso, utcnow
from healthwatch.probes import ProbeContext

if TYPE_CHECKING:
    import requests

    from healthwatch.config import Check
    from healthwatch.secrets import Secrets

log = logging.getLogger("healthwatch.engine")

MAX_WORKERS = 64
# Error classes a re-probe within the run cannot fix: the next run tries again.
NOT_RETRIED = frozenset({ErrorKind.SECRET, ErrorKind.INVALID_URL})


@dataclass
class RunContext:
    """What every attempt of one run shares: who it is, until when, and with what."""

    run_id: str
    tier: str
    deadline: float  # time.monotonic() at which the tier must stop
    session: requests.Session
    secrets: Secrets
    now: Callable[[], datetime] = utcnow
    sleep: Callable[[float], object] | None = None  # None: wait, but wake at the deadline
    max_workers: int = MAX_WORKERS
    stop: threading.Event = field(default_factory=threading.Event)
    # Told of each check's result as it completes (a terminal shows it at once).
    on_result: Callable[[Result], object] | None = None

    def wait(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            self.stop.wait(seconds)

    def left(self) -> float:
        return self.deadline - time.monotonic()


def probe_all(
    ctx: RunContext, checks: Sequence[Check], states: Mapping[str, AlertState]
) -> list[Result]:
    """One result per check, in the checks' order; a check still running at the deadline
    is a `timeout` result, and a check that raised is a `probe_error` result."""
    if not checks:
        return []
    workers = max(1, min(ctx.max_workers, len(checks)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"hw-{ctx.tier}")
    futures: dict[Future[Result], Check] = {
        pool.submit(run_check, check, states[check.id], ctx): check for check in checks
    }
    done: dict[str, Result] = {}
    pending = set(futures)
    while pending:
        left = ctx.left()
        if left <= 0:
            break
        finished, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
        for fut in finished:
            check = futures[fut]
            try:
                done[check.id] = fut.result()
            except Exception as exc:  # a bug past the probe's own guard: this check only
                log.error("check raised", extra={"check_id": check.id, "error": type(exc).__name__})
                obs = failure(ErrorKind.PROBE_ERROR, type(exc).__name__)
                done[check.id] = judge(check, ctx.run_id, ctx.tier, iso(ctx.now()), obs, 1)
            if ctx.on_result is not None:
                # Only what the stored record will say: secrets taken out first.
                ctx.on_result(Result.from_dict(ctx.secrets.redact_obj(done[check.id].to_dict())))
    ctx.stop.set()
    pool.shutdown(wait=False, cancel_futures=True)
    out = []
    for check in checks:
        result = done.get(check.id)
        if result is None:
            obs = failure(ErrorKind.TIMEOUT, "still running at the tier deadline")
            result = judge(check, ctx.run_id, ctx.tier, iso(ctx.now()), obs, 1)
        out.append(result)
    return out


def run_check(check: Check, state: AlertState, ctx: RunContext) -> Result:
    """Probe one check, re-probing a failure every `retry_interval` up to its threshold."""
    allowed = alerting.attempts_allowed(state, check)
    result: Result | None = None
    attempt = 0
    started_at = iso(ctx.now())
    while attempt < allowed:
        attempt += 1
        left = ctx.left()
        if attempt > 1 and left <= 0:
            break
        probe_ctx = ProbeContext(
            session=ctx.session,
            secrets=ctx.secrets,
            # timeout 0 disables the check's own limit: the tier deadline still holds
            timeout=max(0.05, min(check.setting("timeout") or left, left)),
            now=ctx.now,
            memory=state.probe_memory,  # the probe's own counters; saved with the state
            consecutive_failures=state.consecutive_failures,
            run_id=ctx.run_id,
        )
        obs = observe(check, probe_ctx)
        result = judge(check, ctx.run_id, ctx.tier, started_at, obs, attempt)
        if result.status != "down" or attempt >= allowed or ctx.stop.is_set():
            break
        if obs.error_kind in NOT_RETRIED:
            break  # waiting retry_interval cannot fix a missing secret or a bad URL
        interval = check.setting("retry_interval")
        if time.monotonic() + interval >= ctx.deadline:
            break
        ctx.wait(interval)
        if ctx.stop.is_set():
            break
    assert result is not None
    return result
