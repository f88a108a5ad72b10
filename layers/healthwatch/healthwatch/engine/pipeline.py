"""One tier run, top to bottom: probe, decide and deliver alerts, store, run the hooks."""

from __future__ import annotations

import logging
import secrets as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from healthwatch.alerting.dispatch import Dispatcher
from healthwatch.engine.scheduler import MAX_WORKERS, RunContext, probe_all
from healthwatch.errors import RunError
from healthwatch.models import Result, TierRun, iso, utcnow

if TYPE_CHECKING:
    import requests

    from healthwatch.config import Config
    from healthwatch.notify import Notifier
    from healthwatch.secrets import Secrets
    from healthwatch.storage import HistoryStore, ResultStore, StateStore

log = logging.getLogger("healthwatch.engine")
T = TypeVar("T")


@dataclass
class Ports:
    """The adapters one run uses, wired by `runtime` once per container or per command."""

    states: StateStore
    results: ResultStore | None = None
    history: HistoryStore | None = None
    notifier: Notifier | None = None
    # Called with each finished run (status page, SLO burn rates, reports).
    after_run: list[Callable[[TierRun], None]] = field(default_factory=list)


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
    max_workers: int = MAX_WORKERS,
    run_id: str | None = None,
) -> TierRun:
    """Probe every enabled check of `tier`, decide alerts, store everything, notify.

    Never raises because a check failed: that is a `down` result. Raises `RunError`
    (after doing everything it could) when a store write or an alert delivery failed.
    """
    checks = config.checks_for(tier)
    started, t0 = now(), time.monotonic()
    ctx = RunContext(
        run_id=run_id or new_run_id(tier, started),
        tier=tier,
        deadline=t0 + config.tiers[tier].effective_deadline,
        session=session,
        secrets=secrets,
        now=now,
        sleep=sleep,
        max_workers=max_workers,
    )
    states = dict(ports.states.load([c.id for c in checks]))

    results = probe_all(ctx, checks, states)
    results = [Result.from_dict(secrets.redact_obj(r.to_dict())) for r in results]
    duration_ms = round((time.monotonic() - t0) * 1000, 1)
    run = TierRun(ctx.run_id, tier, iso(started), duration_ms, results)

    problems: list[str] = []
    dispatcher = Dispatcher(ports.states, ports.notifier, secrets, now)
    found = _guard(
        problems,
        secrets,
        "alert state",
        dispatcher.dispatch,
        run,
        checks,
        states,
        config.maintenance,
    )
    problems += found or []
    if run.results:
        if ports.results is not None:
            _guard(problems, secrets, "results store", ports.results.write_run, run)
        if ports.history is not None:
            _guard(problems, secrets, "history store", ports.history.put_results, run)
    for hook in ports.after_run:
        _guard(problems, secrets, getattr(hook, "__name__", type(hook).__name__), hook, run)
    log.info(
        "tier finished",
        extra={
            "run_id": ctx.run_id,
            "tier": tier,
            **run.counts(),
            "duration_ms": duration_ms,
            "alerts": len(run.alerts),
        },
    )
    if problems:
        raise RunError(run, problems)
    return run


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
