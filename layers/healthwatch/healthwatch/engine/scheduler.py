"""When each attempt runs: checks at once up to the concurrency, failures re-probed, all
under the tier deadline, on one asyncio event loop per run.

An `async def` probe (http) runs on the loop with the run's aiohttp session; a plain probe
(a vendor whose client library is synchronous) runs in a thread of the run's pool. A
check holds one of `concurrency` slots while an attempt is in flight, never while it waits
out `retry_interval`, so waiting retries do not starve the checks behind them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from healthwatch import alerting
from healthwatch.config.schema import DEFAULT_CONCURRENCY
from healthwatch.engine.verdict import failure, judge, observe
from healthwatch.errors import ErrorKind
from healthwatch.models import AlertState, Result, iso, utcnow
from healthwatch.probes import Observation, ProbeContext
from healthwatch.urls import proxy_environment

if TYPE_CHECKING:
    import aiohttp
    import requests

    from healthwatch.config import Check
    from healthwatch.secrets import Secrets

log = logging.getLogger("healthwatch.engine")

# Threads for synchronous probes: past this, requests costs more CPU than it overlaps.
MAX_THREADS = 64
# Error classes a re-probe within the run cannot fix: the next run tries again.
NOT_RETRIED = frozenset({ErrorKind.SECRET, ErrorKind.INVALID_URL})


@dataclass
class RunContext:
    """What every attempt of one run shares: who it is, until when, and with what."""

    run_id: str
    tier: str
    deadline: float  # time.monotonic() at which the tier must stop
    session: requests.Session  # for synchronous probes
    secrets: Secrets
    now: Callable[[], datetime] = utcnow
    sleep: Callable[[float], object] | None = None  # None: wait on the loop (tests record)
    concurrency: int = DEFAULT_CONCURRENCY
    # Builds the run's aiohttp session, in the run's loop (runtime.clients.aio_session).
    open_http: Callable[[int], aiohttp.ClientSession] | None = None
    # Told of each check's result as it completes (a terminal shows it at once).
    on_result: Callable[[Result], object] | None = None
    proxy_env: tuple[str | None, ...] = field(default_factory=proxy_environment)
    # Attempts per check when the caller decides them (a probe region, told by the home).
    attempts: Mapping[str, int] = field(default_factory=dict)
    _http: aiohttp.ClientSession | None = field(default=None, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def http(self) -> aiohttp.ClientSession:
        """The run's aiohttp session, made on first use (a tier of vendor probes needs none)."""
        if self._http is None:
            if self.open_http is None:
                raise RuntimeError("no HTTP client: RunContext(open_http=...) is not set")
            self._http = self.open_http(self.concurrency)
        return self._http

    async def in_thread(self, fn: Callable[..., Observation], *args: Any) -> Observation:
        if self._pool is None:
            workers = max(1, min(self.concurrency, MAX_THREADS))
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"hw-{self.tier}")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def wait(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            await asyncio.sleep(seconds)

    async def close(self) -> None:
        """Let go of the clients; a thread still in a probe is abandoned, never waited for."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._http is not None:
            await self._http.close()
            self._http = None


def probe_all(
    ctx: RunContext, checks: Sequence[Check], states: Mapping[str, AlertState]
) -> list[Result]:
    """One result per check, in the checks' order; a check still running at the deadline
    is a `timeout` result, and a check that raised is a `probe_error` result."""
    if not checks:
        return []
    return asyncio.run(probe_all_async(ctx, checks, states))


async def probe_all_async(
    ctx: RunContext, checks: Sequence[Check], states: Mapping[str, AlertState]
) -> list[Result]:
    slots = asyncio.Semaphore(max(1, ctx.concurrency))
    done: dict[str, Result] = {}

    def finished(check: Check, task: asyncio.Task[Result]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:  # a bug past the probe's own guard: this check only
            log.error("check raised", extra={"check_id": check.id, "error": type(exc).__name__})
            obs = failure(ErrorKind.PROBE_ERROR, type(exc).__name__)
            done[check.id] = judge(check, ctx.run_id, ctx.tier, iso(ctx.now()), obs, 1)
        else:
            done[check.id] = task.result()
        if ctx.on_result is not None:
            # Only what the stored record will say: secrets taken out first.
            shown = done[check.id]
            if ctx.secrets.knows_any():
                shown = Result.from_dict(ctx.secrets.redact_obj(shown.to_dict()))
            ctx.on_result(shown)

    # A check's task is made when a slot is free for its first attempt, not up front:
    # 10,000 tasks waiting on the semaphore were 15 MB. Those live now: the running ones,
    # and those waiting out a retry interval (which hold no slot).
    live: set[asyncio.Task[Result]] = set()

    async def feed() -> None:
        for check in checks:
            await slots.acquire()
            task = asyncio.create_task(_run_check(check, states[check.id], ctx, slots, True))
            task.add_done_callback(functools.partial(finished, check))
            live.add(task)
            task.add_done_callback(live.discard)

    async def every_check() -> None:
        await feeder
        while live:
            await asyncio.wait(set(live))

    feeder = asyncio.create_task(feed())
    try:
        waiter = asyncio.create_task(every_check())
        await asyncio.wait([waiter], timeout=max(0.0, ctx.left()))
        pending = [t for t in (waiter, feeder, *live) if not t.done()]
        for task in pending:
            task.cancel()  # a check never started, or still running, is a `timeout` result
        if pending:
            await asyncio.wait(pending, timeout=1.0)  # let cancelled requests close
    finally:
        await ctx.close()
    out = []
    for check in checks:
        result = done.get(check.id)
        if result is None:
            obs = failure(ErrorKind.TIMEOUT, "still running at the tier deadline")
            result = judge(check, ctx.run_id, ctx.tier, iso(ctx.now()), obs, 1)
        out.append(result)
    return out


def run_check(check: Check, state: AlertState, ctx: RunContext) -> Result:
    """One check on its own loop: what the probe tests and the contract suite call."""

    async def one() -> Result:
        try:
            return await _run_check(check, state, ctx, asyncio.Semaphore(1))
        finally:
            await ctx.close()

    return asyncio.run(one())


async def _run_check(
    check: Check,
    state: AlertState,
    ctx: RunContext,
    slots: asyncio.Semaphore,
    holding: bool = False,
) -> Result:
    """Probe one check, re-probing a failure every `retry_interval` up to its threshold.
    `holding`: the caller took the first attempt's slot; each attempt gives its slot back."""
    allowed = ctx.attempts.get(check.id) or alerting.attempts_allowed(state, check)
    result: Result | None = None
    attempt = 0
    started_at = iso(ctx.now())
    while attempt < allowed:
        attempt += 1
        if not holding:
            await slots.acquire()
        holding = False
        try:
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
                http=ctx.http,
                proxy_env=ctx.proxy_env,
            )
            obs = await observe(check, probe_ctx, ctx.in_thread)
        finally:
            slots.release()
        result = judge(check, ctx.run_id, ctx.tier, started_at, obs, attempt)
        if result.status != "down" or attempt >= allowed:
            break
        if obs.error_kind in NOT_RETRIED:
            break  # waiting retry_interval cannot fix a missing secret or a bad URL
        interval = check.setting("retry_interval")
        if time.monotonic() + interval >= ctx.deadline:
            break
        await ctx.wait(interval)  # without a slot: the checks queued behind go on
    assert result is not None
    return result
