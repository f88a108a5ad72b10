"""One tier run, top to bottom: probe, claim alerts, store, deliver, summarise, run the hooks."""

from __future__ import annotations

import logging
import os
import secrets as _random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from healthwatch.alerting.dispatch import DEFAULT_LEASE_S, Claims, Decide, Dispatcher
from healthwatch.alerting.maintenance import active_window
from healthwatch.alerting.silences import SILENCES_ID, Silence, covering, silences_in
from healthwatch.alerting.state import apply, attempts_allowed
from healthwatch.engine.regions import Calls, RemoteRegion, vote
from healthwatch.engine.scheduler import RunContext, probe_all
from healthwatch.engine.shards import Shard, select
from healthwatch.errors import RunError
from healthwatch.models import AlertEvent, AlertState, Result, TierRun, iso, utcnow

if TYPE_CHECKING:
    import aiohttp
    import requests

    from healthwatch.alerting.slo import SloBurnAlerts
    from healthwatch.config import Check, Config, MaintenanceWindow
    from healthwatch.notify import Notifier
    from healthwatch.secrets import Secrets
    from healthwatch.storage import HistoryStore, ResultStore, StateStore

log = logging.getLogger("healthwatch.engine")
T = TypeVar("T")
LEASE_MARGIN_S = 5.0  # clock skew between the run that leased and the one that reads it


@dataclass
class Ports:
    """The adapters one run uses, wired by `runtime` once per container or per command."""

    states: StateStore
    results: ResultStore | None = None
    history: HistoryStore | None = None
    notifier: Notifier | None = None  # one destination; `notifiers` for several
    notifiers: Sequence[Notifier] = ()
    slo: SloBurnAlerts | None = None  # claimed with the run's other alerts
    # The other regions' probe functions (the config's `regions` after the home).
    regions: Sequence[RemoteRegion] = ()
    # Whether the run named by an outbox lease has died (locally: its process is gone).
    owner_gone: Callable[[str], bool] | None = None
    # Called with each finished run (status page, reports).
    after_run: list[Callable[[TierRun], None]] = field(default_factory=list)
    # Tiers run at once (`run --all`) share these ports: their hooks run one at a time, so
    # the last one to run reads every tier's stored results.
    hooks_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def destinations(self) -> list[Notifier]:
        return [*self.notifiers, *([self.notifier] if self.notifier is not None else [])]


def owner_name(run_id: str) -> str:
    """`host:pid:run_id`: who holds an outbox lease, specific enough to tell it has died."""
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def new_run_id(tier: str, started: datetime) -> str:
    return f"{tier}-{started.strftime('%Y-%m-%dT%H-%M-%SZ')}-{_random.token_hex(2)}"


def run_tier(
    config: Config,
    tier: str,
    ports: Ports,
    *,
    session: requests.Session,
    secrets: Secrets,
    now: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] | None = None,
    concurrency: int | None = None,
    open_http: Callable[[int], aiohttp.ClientSession] | None = None,
    run_id: str | None = None,
    time_left: Callable[[], float] | None = None,
    on_result: Callable[[Result], object] | None = None,
    shard: Shard = Shard(),
) -> TierRun:
    """Probe every enabled check of `tier`, claim its alerts, store everything, deliver.

    Never raises because a check failed: that is a `down` result. Raises `RunError` (after
    doing everything it could) when a store, a claim or a delivery failed. The results are
    stored before any alert goes out; a state store that cannot be read costs the run its
    alerts (none can be decided, so none is sent twice) but not its results.
    `time_left`: seconds the invocation may still use (Lambda's remaining time, less a
    margin); a delivery that would not fit stays pending for the next run.
    `concurrency`: checks in flight at once (default: the config's `defaults.concurrency`);
    `open_http(limit)` builds the run's aiohttp session (`runtime.clients.aio_session`).
    `shard`: which of a split tier's checks this invocation runs (`engine.shards`).
    With `ports.regions`, every other region probes the same checks meanwhile and the
    results are decided by the regions' vote (`engine.regions`).
    """
    every = config.checks_for(tier)
    checks = select(every, [c.id for c in every], shard)
    started, t0 = now(), time.monotonic()
    deadline = t0 + config.tiers[tier].effective_deadline
    ctx = RunContext(
        run_id=run_id or new_run_id(tier, started),
        tier=tier,
        deadline=deadline,
        session=session,
        secrets=secrets,
        now=now,
        sleep=sleep,
        concurrency=concurrency or config.defaults.concurrency,
        open_http=open_http,
        # With regions a result is known once they voted, not when the home saw it.
        on_result=None if ports.regions else on_result,
    )
    problems: list[str] = []
    ids = [c.id for c in checks]
    loaded = _guard(problems, secrets, "alert state", ports.states.load, [*ids, SILENCES_ID])
    states = dict(loaded) if loaded is not None else None
    silences = silences_in(states.pop(SILENCES_ID)) if states is not None else []

    known = states or {c.id: AlertState(c.id) for c in checks}
    calls = None
    if ports.regions and checks:
        payload = {
            "tier": tier,
            "check_ids": ids,
            "run_id": ctx.run_id,
            "attempts": {c.id: attempts_allowed(known[c.id], c) for c in checks},
        }
        calls = Calls(ports.regions, payload, deadline)
    results = probe_all(ctx, checks, known)
    if config.regions:
        vote(config.regions[0].name, config.quorum, results, calls.collect() if calls else [])
    if calls is not None and on_result is not None:  # once the regions voted
        for result in results:
            on_result(_shown(result, secrets))
    if secrets.knows_any():  # a run that resolved no secret has nothing to take out
        results = [Result.from_dict(secrets.redact_obj(r.to_dict())) for r in results]
    duration_ms = round((time.monotonic() - t0) * 1000, 1)
    run = TierRun(
        ctx.run_id, tier, iso(started), duration_ms, results, shard=shard.index, shards=shard.count
    )

    dispatcher = Dispatcher(
        ports.states,
        ports.destinations(),
        secrets,
        now,
        time_left,
        owner=owner_name(ctx.run_id),
        # No longer than this invocation can live: a dead run's leases lapse with it.
        lease_s=time_left() + LEASE_MARGIN_S if time_left is not None else DEFAULT_LEASE_S,
        owner_gone=ports.owner_gone or (lambda owner: False),
    )
    claims = Claims()
    if states is not None:
        found = _guard(
            problems, secrets, "alert state", _claim, dispatcher, config, run, states, silences
        )
        claims.merge(found or Claims())
    if run.results:
        if ports.results is not None:
            _guard(problems, secrets, "results store", ports.results.write_run, run)
        if ports.history is not None:
            _guard(problems, secrets, "history store", ports.history.put_results, run)
    if ports.slo is not None and states is not None:
        found = _guard(problems, secrets, "slo burn", ports.slo.claim, run, dispatcher)
        claims.merge(found or Claims())
    run.alerts += claims.produced
    problems += claims.problems
    problems += (
        _guard(problems, secrets, "alert delivery", dispatcher.deliver, run, claims.states) or []
    )
    if run.results and ports.results is not None:
        _guard(problems, secrets, "results store", ports.results.write_latest, run)
    if ports.history is not None:
        _guard(problems, secrets, "history store", ports.history.put_summary, run)
    # The hooks (the status page's rollup) are a run's peak of memory: what only the stores
    # and the alerts needed goes first (at 10,000 checks, 5 MB of lines and 5 MB of states).
    run.release_lines()
    del loaded, states, known, claims, dispatcher
    with ports.hooks_lock:
        for hook in ports.after_run:
            name = getattr(hook, "__name__", type(hook).__name__)
            _guard(problems, secrets, name, hook, run)
    counts = {**run.counts(), "alerts": len(run.delivered), "undelivered": len(run.undelivered)}
    log.info(
        "tier finished",
        extra={"run_id": ctx.run_id, "tier": tier, **counts, "duration_ms": duration_ms},
    )
    if problems:
        raise RunError(run, problems)
    return run


def probe_checks(
    config: Config,
    tier: str,
    check_ids: Sequence[str],
    *,
    run_id: str,
    session: requests.Session,
    secrets: Secrets,
    open_http: Callable[[int], aiohttp.ClientSession] | None,
    budget_s: float,
    attempts: Mapping[str, int] | None = None,
) -> list[Result]:
    """A probe region's part of a run: the named checks of `tier` probed (an id this config
    does not have is left out), nothing decided, stored or sent; secrets taken out."""
    wanted = set(check_ids)
    checks = [c for c in config.checks_for(tier) if c.id in wanted]
    ctx = RunContext(
        run_id=run_id,
        tier=tier,
        deadline=time.monotonic() + min(budget_s, config.tiers[tier].effective_deadline),
        session=session,
        secrets=secrets,
        concurrency=config.defaults.concurrency,
        open_http=open_http,
        attempts=dict(attempts or {}),
    )
    results = probe_all(ctx, checks, {c.id: AlertState(c.id) for c in checks})
    return [_shown(r, secrets) for r in results]


def _claim(
    dispatcher: Dispatcher,
    config: Config,
    run: TierRun,
    states: dict[str, AlertState],
    silences: list[Silence],
) -> Claims:
    """Each check's transition decided on its result and claimed in one batch."""
    at = dispatcher.now()
    by_id = {c.id: c for c in config.checks}
    decisions: dict[str, Decide] = {}
    for result in run.results:
        hold: MaintenanceWindow | Silence | None
        hold = active_window(config.maintenance, result.check_id, run.tier, at)
        if hold is not None:
            result.details["maintenance"] = hold.name
        elif (hold := covering(silences, result.check_id, run.tier, at)) is not None:
            result.details["silenced"] = {"until": hold.until, "reason": hold.reason}
        decisions[result.check_id] = _Decision(result, by_id[result.check_id], at, hold)
    return dispatcher.claim(decisions, states)


@dataclass(slots=True)
class _Decision:
    """`apply` for one check's result: a `Decide` per check of the run (a partial with its
    keywords was 270 bytes each, 2.7 MB at 10,000 checks)."""

    result: Result
    check: Check
    now: datetime
    maintenance: MaintenanceWindow | Silence | None

    def __call__(self, state: AlertState) -> tuple[AlertState, list[AlertEvent]]:
        return apply(state, self.result, self.check, self.now, self.maintenance)


def _shown(result: Result, secrets: Secrets) -> Result:
    return Result.from_dict(secrets.redact_obj(result.to_dict())) if secrets.knows_any() else result


def _guard(
    problems: list[str], secrets: Secrets, name: str, step: Callable[..., T], *args: object
) -> T | None:
    """Run one step of the tail; its failure is a problem of the run, and the next step runs."""
    try:
        return step(*args)
    except Exception as exc:  # surfaced by RunError, after every other step had its chance
        log.error("run step failed", extra={"step": name, "error": type(exc).__name__})
        problems.append(f"{name}: {secrets.redact(str(exc)) or type(exc).__name__}")
        return None
