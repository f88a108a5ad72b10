"""Run one tier: probes in parallel under deadlines, alert state, storage, notifications."""

from __future__ import annotations

import logging
import secrets as _random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from healthwatch import alerting, probes
from healthwatch.conditions import EvalContext, evaluate_all, parsed
from healthwatch.errors import DeliveryError, ProbeError, RunError, SecretError
from healthwatch.models import (
    AlertEvent,
    AlertState,
    Result,
    Status,
    TierRun,
    iso,
    utcnow,
    worst,
)
from healthwatch.notify import Notifier
from healthwatch.probes import Observation, ProbeContext
from healthwatch.storage import HistoryStore, ResultStore, StateStore, save_all

if TYPE_CHECKING:
    import requests

    from healthwatch.config import Check, Config
    from healthwatch.secrets import Secrets

log = logging.getLogger("healthwatch.engine")

MAX_WORKERS = 64
SAVE_ATTEMPTS = 5
# Error classes a re-probe within the run cannot fix: the next run tries again.
NOT_RETRIED = frozenset({"secret", "invalid_url"})


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

    `run_id` may be chosen by the caller (a handler that puts it on every log line first).

    Never raises because a check failed: that is a `down` result. Raises `RunError`
    (after doing everything it could) when a store write or an alert delivery failed.
    """
    checks = config.checks_for(tier)
    deadline_s = config.tiers[tier].effective_deadline
    started = now()
    t0 = time.monotonic()
    run_id = run_id or new_run_id(tier, started)
    states = dict(ports.states.load([c.id for c in checks]))
    stop = threading.Event()
    wait_fn = sleep or (lambda s: stop.wait(s))

    results = _probe_all(
        checks,
        states,
        run_id,
        tier,
        t0 + deadline_s,
        stop,
        wait_fn,
        session=session,
        secrets=secrets,
        now=now,
        max_workers=max_workers,
    )
    results = [Result.from_dict(secrets.redact_obj(r.to_dict())) for r in results]
    duration_ms = round((time.monotonic() - t0) * 1000, 1)
    run = TierRun(run_id, tier, iso(started), duration_ms, results)

    problems: list[str] = []
    try:
        _decide_and_notify(config, run, checks, states, ports, secrets, now, problems)
    except Exception as exc:  # the state store is down: still store the results, then report
        log.error("alert state could not be saved", extra={"error": type(exc).__name__})
        problems.append(f"alert state: {secrets.redact(str(exc)) or type(exc).__name__}")
    writes: list[tuple[str, Callable[[TierRun], object]]] = []
    if ports.results is not None:
        writes.append(("results store", ports.results.write_run))
    if ports.history is not None:
        writes.append(("history store", ports.history.put_results))
    for name, write in writes if run.results else []:
        try:
            write(run)
        except Exception as exc:  # surfaced below, after the other store had its chance
            log.error("storing the run failed", extra={"store": name, "error": type(exc).__name__})
            problems.append(f"{name}: {secrets.redact(str(exc))}")
    for hook in ports.after_run:
        try:
            hook(run)
        except Exception as exc:
            name = getattr(hook, "__name__", type(hook).__name__)
            log.error("after-run hook failed", extra={"hook": name, "error": type(exc).__name__})
            problems.append(f"{name}: {secrets.redact(str(exc))}")
    log.info(
        "tier finished",
        extra={
            "run_id": run_id,
            "tier": tier,
            **run.counts(),
            "duration_ms": duration_ms,
            "alerts": len(run.alerts),
        },
    )
    if problems:
        raise RunError(run, problems)
    return run


def _probe_all(
    checks: Sequence[Check],
    states: dict[str, AlertState],
    run_id: str,
    tier: str,
    deadline: float,
    stop: threading.Event,
    wait_fn: Callable[[float], object],
    *,
    session: requests.Session,
    secrets: Secrets,
    now: Callable[[], datetime],
    max_workers: int,
) -> list[Result]:
    if not checks:
        return []
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(checks))), thread_name_prefix=f"hw-{tier}"
    )
    futures: dict[Future[Result], Check] = {}
    for check in checks:
        fut = pool.submit(
            run_check,
            check,
            states[check.id],
            run_id,
            tier,
            deadline,
            stop,
            wait_fn,
            session=session,
            secrets=secrets,
            now=now,
        )
        futures[fut] = check
    done: dict[str, Result] = {}
    pending = set(futures)
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        finished, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
        for fut in finished:
            check = futures[fut]
            try:
                done[check.id] = fut.result()
            except Exception as exc:  # a bug past the probe's own guard: this check only
                log.error("check raised", extra={"check_id": check.id, "error": type(exc).__name__})
                obs = Observation(error=f"probe_error: {type(exc).__name__}")
                done[check.id] = _result(check, run_id, tier, iso(now()), obs, attempts=1)
    stop.set()
    pool.shutdown(wait=False, cancel_futures=True)
    out = []
    for check in checks:
        result = done.get(check.id)
        if result is None:
            result = _result(
                check,
                run_id,
                tier,
                iso(now()),
                Observation(error="timeout: still running at the tier deadline"),
                attempts=1,
            )
            result.status = "down"
        out.append(result)
    return out


def run_check(
    check: Check,
    state: AlertState,
    run_id: str,
    tier: str,
    deadline: float,
    stop: threading.Event,
    wait_fn: Callable[[float], object],
    *,
    session: requests.Session,
    secrets: Secrets,
    now: Callable[[], datetime],
) -> Result:
    """Probe one check, re-probing a failure every `retry_interval` up to its threshold."""
    allowed = alerting.attempts_allowed(state, check)
    memory = state.probe_memory  # the probe's own counters; saved with the state
    result: Result | None = None
    attempt = 0
    started_at = iso(now())
    while attempt < allowed:
        attempt += 1
        left = deadline - time.monotonic()
        if attempt > 1 and left <= 0:
            break
        ctx = ProbeContext(
            session=session,
            secrets=secrets,
            # timeout 0 disables the check's own limit: the tier deadline still holds
            timeout=max(0.05, min(check.setting("timeout") or left, left)),
            now=now,
            memory=memory,
            consecutive_failures=state.consecutive_failures,
        )
        result = _result(check, run_id, tier, started_at, _observe(check, ctx), attempt)
        if result.status != "down" or attempt >= allowed or stop.is_set():
            break
        if (result.error or "").split(":", 1)[0] in NOT_RETRIED:
            break  # waiting retry_interval cannot fix a missing secret or a bad URL
        interval = check.setting("retry_interval")
        if time.monotonic() + interval >= deadline:
            break
        wait_fn(interval)
        if stop.is_set():
            break
    assert result is not None
    return result


def _observe(check: Check, ctx: ProbeContext) -> Observation:
    module = probes.get(check.type)
    start = time.perf_counter()
    try:
        obs: Observation = module.probe(check, ctx)
    except ProbeError as exc:
        obs = Observation(error=f"{exc.kind}: {exc.message}")
    except SecretError as exc:  # its message names the reference, never a value
        obs = Observation(error=f"secret: {exc}")
    except Exception as exc:  # a probe bug: the check is down, the tier goes on
        obs = Observation(error=f"probe_error: {type(exc).__name__}")
        log.warning("probe raised", extra={"check_id": check.id, "error": type(exc).__name__})
    if obs.latency_ms is None:  # for a failure: how long until it failed
        obs.latency_ms = round((time.perf_counter() - start) * 1000, 1)
    return obs


def _result(
    check: Check, run_id: str, tier: str, started_at: str, obs: Observation, attempts: int
) -> Result:
    ctx = EvalContext(
        status=obs.http_status,
        response_time_ms=obs.latency_ms,
        body=obs.body,
        ip=obs.ip,
        connected=obs.connected if obs.connected is not None else (obs.error is None or None),
        certificate_expiration_ms=obs.certificate_expiration_ms,
    )
    conditions = check.parsed_conditions
    if not conditions and obs.default_conditions:
        conditions = [parsed(c) for c in obs.default_conditions]
    # A probe that failed, or answered with its own verdict on an error (a vendor's 429 is
    # degraded, not down), did not see the answer the conditions were written for.
    evaluated = evaluate_all(conditions, ctx) if obs.error is None else []
    warned = evaluate_all(check.parsed_warnings, ctx) if obs.error is None else []
    status: Status
    if obs.error is not None and obs.verdict is None:
        status = "down"
    else:
        status = obs.verdict or "up"
        if any(not c.success for c in evaluated):
            status = "down"
        elif any(not c.success for c in warned):
            status = worst(status, "degraded")
    details = dict(obs.details)
    if obs.actions:
        details["actions"] = obs.actions
    if warned:
        details["warnings"] = [_cond(c) for c in warned]
    error = obs.error
    if error is None and status == "down":
        failed = [c.detail for c in evaluated if not c.success]
        error = "condition_failed: " + "; ".join(failed) if failed else None
    return Result(
        run_id=run_id,
        tier=tier,
        check_id=check.id,
        check_name=check.name,
        type=check.type,
        target=check.target,
        started_at=started_at,
        status=status,
        latency_ms=obs.latency_ms,
        http_status=obs.http_status,
        error=error,
        attempts=attempts,
        conditions=[_cond(c) for c in evaluated],
        details=details,
    )


def _cond(c: object) -> dict[str, object]:
    return {"condition": c.condition, "success": c.success, "detail": c.detail}  # type: ignore[attr-defined]


def _decide_and_notify(
    config: Config,
    run: TierRun,
    checks: Sequence[Check],
    states: dict[str, AlertState],
    ports: Ports,
    secrets: Secrets,
    now: Callable[[], datetime],
    problems: list[str],
) -> None:
    """Decide every check's alerts, save all states in one batch, then deliver.

    A state is saved before its alerts go out: the save is the claim. A check whose save
    lost a race (another run of the tier wrote first) is decided again on the winner's state.
    """
    by_id = {c.id: c for c in checks}
    at = now()
    windows = {}
    for result in run.results:
        window = alerting.active_window(config.maintenance, result.check_id, run.tier, at)
        if window is not None:
            result.details["maintenance"] = window.name
        windows[result.check_id] = window
    todo = {r.check_id: r for r in run.results}
    base = dict(states)
    saved: dict[str, AlertState] = {}
    decided: dict[str, tuple[list[AlertEvent], list[AlertEvent]]] = {}
    for _ in range(SAVE_ATTEMPTS):
        if not todo:
            break
        proposals = {}
        for cid, result in todo.items():
            new, events = alerting.apply(base[cid], result, by_id[cid], at, windows[cid])
            # Events an earlier run could not deliver are retried by whoever saves next.
            backlog = [AlertEvent.from_dict(e) for e in new.pending_events]
            new.pending_events = []
            proposals[cid] = (new, backlog, events)
        outcome = save_all(ports.states, [p[0] for p in proposals.values()])
        lost = []
        for cid, (_, backlog, events) in proposals.items():
            got = outcome[cid]
            if isinstance(got, AlertState):
                saved[cid] = got
                decided[cid] = (backlog, events)
                del todo[cid]
            else:
                lost.append(cid)
        if lost:
            fresh = ports.states.load(lost)
            for cid in lost:
                fresh[cid].probe_memory.update(states[cid].probe_memory)
                base[cid] = fresh[cid]
    for cid in todo:
        problems.append(f"{cid}: alert state kept changing under us; gave up")

    requeue = []
    for result in run.results:
        cid = result.check_id
        if cid not in decided:
            continue
        backlog, events = decided[cid]
        undelivered = []
        for i, event in enumerate(backlog + events):
            event = AlertEvent.from_dict(secrets.redact_obj(event.to_dict()))
            if i >= len(backlog):
                run.alerts.append(event)
            if ports.notifier is None:
                continue
            try:
                ports.notifier.send(event)
            except DeliveryError as exc:
                log.error("alert delivery failed", extra={"check_id": cid, "event": event.event})
                undelivered.append(event)
                problems.append(
                    f"{cid}: {event.event} alert not delivered: {secrets.redact(str(exc))}"
                )
        if undelivered:
            run.undelivered.extend(undelivered)
            saved[cid].pending_events = [e.to_dict() for e in undelivered]
            requeue.append(saved[cid])
    if requeue:
        for cid, got in save_all(ports.states, requeue).items():
            if not isinstance(got, AlertState):
                problems.append(f"{cid}: could not queue undelivered alerts")
