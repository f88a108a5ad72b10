"""One attempt: call the probe, then judge what it saw with the check's conditions."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from healthwatch import probes
from healthwatch.conditions import ConditionResult, EvalContext, evaluate_all, parsed
from healthwatch.errors import ErrorKind, ProbeError, SecretError, error_text
from healthwatch.models import Result, Status, worst
from healthwatch.probes import Observation, ProbeContext

if TYPE_CHECKING:
    from healthwatch.config import Check

log = logging.getLogger("healthwatch.engine")
ATTEMPT_GRACE_S = 1.0


async def observe(
    check: Check, ctx: ProbeContext, in_thread: Callable[..., Awaitable[Observation]]
) -> Observation:
    """Run the probe once: an `async def` probe on the loop, a plain one through `in_thread`.

    Whatever it raises becomes an observation with an error kind. An async probe gets
    `ATTEMPT_GRACE_S` past its timeout before the attempt is cut short as a `timeout`; a
    thread cannot be cut short (its client's own timeouts end it), only abandoned at the
    tier's deadline.
    """
    module = probes.get(check.type)
    start = time.perf_counter()
    try:
        obs: Observation
        if inspect.iscoroutinefunction(module.probe):
            try:
                async with asyncio.timeout(ctx.timeout + ATTEMPT_GRACE_S):
                    obs = await module.probe(check, ctx)
            except TimeoutError:
                obs = failure(ErrorKind.TIMEOUT, f"no complete answer within {ctx.timeout:g}s")
        else:
            obs = await in_thread(module.probe, check, ctx)
    except ProbeError as exc:
        obs = Observation(error=str(exc), error_kind=exc.kind)
    except SecretError as exc:  # its message names the reference, never a value
        obs = Observation(error=error_text(ErrorKind.SECRET, str(exc)), error_kind=ErrorKind.SECRET)
    except RecursionError:  # the answer, not the probe: JSON (or XML) nested too deep to read
        obs = failure(ErrorKind.INVALID_JSON, "the answer is nested too deep to read")
    except Exception as exc:  # a probe bug: the check is down, the tier goes on
        obs = failure(ErrorKind.PROBE_ERROR, type(exc).__name__)
        log.warning("probe raised", extra={"check_id": check.id, "error": type(exc).__name__})
    if obs.latency_ms is None:  # for a failure: how long until it failed
        obs.latency_ms = round((time.perf_counter() - start) * 1000, 1)
    return obs


def failure(kind: ErrorKind, message: str) -> Observation:
    return Observation(error=error_text(kind, message), error_kind=kind)


def judge(
    check: Check, run_id: str, tier: str, started_at: str, obs: Observation, attempts: int
) -> Result:
    """The result record of one attempt: the probe's verdict, then the conditions'."""
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
        if failed:
            error = error_text(ErrorKind.CONDITION_FAILED, "; ".join(failed))
        else:  # the probe's own verdict (flyio, statuspage): say what it found
            said = details.get("summary") or details.get("reason") or "judged down by the probe"
            error = f"{check.type}: {said}"
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
        conditions=_outcomes(evaluated),
        details=details,
    )


# The outcomes of a check's conditions are, most of the time, what they were for the check
# before it (`[STATUS] == 200` passed): one list of the same dicts for all those results, not
# a list and a dict per condition per result (0.6 KB a result: 6 MB at 10,000 checks). No
# code writes into a result's conditions: `Result.to_dict` copies them for every store.
_OUTCOMES_KEPT = 4096
_OUTCOMES: dict[tuple[tuple[str, bool, str], ...], list[dict[str, Any]]] = {}


def _outcomes(evaluated: list[ConditionResult]) -> list[dict[str, Any]]:
    if not evaluated:
        return []
    key = tuple((c.condition, c.success, c.detail) for c in evaluated)
    found = _OUTCOMES.get(key)
    if found is None:
        if len(_OUTCOMES) >= _OUTCOMES_KEPT:  # failures say what they saw: bounded
            _OUTCOMES.clear()
        found = _OUTCOMES[key] = [_cond(c) for c in evaluated]
    return found


def _cond(c: ConditionResult) -> dict[str, Any]:
    return {"condition": c.condition, "success": c.success, "detail": c.detail}
