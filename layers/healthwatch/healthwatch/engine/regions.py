"""Probing from several regions and the vote that merges what they saw (DESIGN.md "Scale").

The home region probes as usual; every other region's probe function is invoked at the
same time with the checks to probe, and answers with its own result records. A region
that does not answer by the tier's deadline, answers with an error, or has no record for a
check is `unavailable` for it: that is never a vote for `down`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from healthwatch.models import Result, is_config_error, is_config_problem

log = logging.getLogger("healthwatch.engine")

UNAVAILABLE = "unavailable"


class Invoker(Protocol):
    """Lambda's Invoke API, as the engine and the runtime use it."""

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> Any:
        """RequestResponse: the function's answer (parsed JSON). Raises `InvokeError` on a
        function error, a throttle, a transport failure or no answer within `timeout`."""
        ...

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        """Event: queued for the function; raises `InvokeError` if Lambda did not take it."""
        ...


@dataclass(frozen=True)
class RemoteRegion:
    """A region other than the home: its probe function, reached through `invoker`."""

    name: str
    function: str
    invoker: Invoker


@dataclass
class Answer:
    """One region's records by check id, or why it has none."""

    region: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    problem: str | None = None  # the whole region is unavailable, and why


class Calls:
    """The remote regions' invocations of one run, in flight while the home probes."""

    def __init__(
        self,
        regions: Sequence[RemoteRegion],
        payload: Mapping[str, Any],
        deadline: float,
    ) -> None:
        self.deadline = deadline
        self._answers: dict[str, Answer] = {}
        self._threads: list[tuple[RemoteRegion, threading.Thread]] = []
        for region in regions:
            # A daemon thread: a region that never answers is abandoned at the deadline,
            # never waited for (not even by the interpreter at exit).
            thread = threading.Thread(
                target=self._call, args=(region, payload), name=f"hw-region-{region.name}"
            )
            thread.daemon = True
            thread.start()
            self._threads.append((region, thread))

    def _call(self, region: RemoteRegion, payload: Mapping[str, Any]) -> None:
        try:
            left = max(0.1, self.deadline - time.monotonic())
            body = region.invoker.invoke(region.function, payload, left)
            self._answers[region.name] = parse_answer(region.name, body)
        except Exception as exc:  # every failure of a region makes it unavailable
            log.warning("region unavailable", extra={"region": region.name, "error": str(exc)})
            self._answers[region.name] = Answer(region.name, problem=str(exc) or type(exc).__name__)

    def collect(self) -> list[Answer]:
        """Every region's answer, waiting no longer than the deadline."""
        out = []
        for region, thread in self._threads:
            thread.join(max(0.0, self.deadline - time.monotonic()))
            answer = self._answers.get(region.name)
            if answer is None:
                answer = Answer(region.name, problem="no answer by the tier deadline")
            out.append(answer)
        return out


def parse_answer(region: str, body: Any) -> Answer:
    """`{"region", "results": [records]}`; anything else makes the region unavailable."""
    if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
        return Answer(region, problem="the answer has no results")
    records = {}
    for record in body["results"]:
        if (
            isinstance(record, Mapping)
            and isinstance(record.get("check_id"), str)
            and record.get("status") in ("up", "degraded", "down")
        ):
            records[record["check_id"]] = dict(record)
    return Answer(region, records)


def _view(status: str, latency: Any, error: Any) -> dict[str, Any]:
    latency_ms = float(latency) if isinstance(latency, int | float) else None
    return {"status": status, "latency_ms": latency_ms, "error": error if error else None}


def vote(
    home: str, quorum: int | None, results: Sequence[Result], answers: Sequence[Answer]
) -> None:
    """Set each result's `details.regions` and, with a quorum, its status by the vote.

    `down` when at least `quorum` regions saw it down (its error names them); `degraded`
    when some did but fewer; else the home's own status. Without a quorum the home decides
    and the other regions are recorded. The record keeps the home's observation.
    """
    for result in results:
        views = {home: _view(result.status, result.latency_ms, result.error)}
        attempts: dict[str, int] = {home: result.attempts}
        for answer in answers:
            record = answer.records.get(result.check_id)
            if record is None:
                why = answer.problem or "no record for this check"
                views[answer.region] = _view(UNAVAILABLE, None, why)
                continue
            error = record.get("error")
            if is_config_error(error):
                # The region cannot probe it (its copy of a secret is missing): no vote.
                views[answer.region] = _view(UNAVAILABLE, None, error)
                continue
            views[answer.region] = _view(record["status"], record.get("latency_ms"), error)
            attempts[answer.region] = int(record.get("attempts") or 1)
        result.details["regions"] = views
        if quorum is None or is_config_problem(result):
            continue  # the home's own config problem is announced as itself
        down = [name for name, v in views.items() if v["status"] == "down"]
        if not down:
            continue  # the home saw it up or degraded: that stands
        said = views[home]["error"] if home in down else views[down[0]]["error"]
        reason = f"{said}" if said else "down"
        if len(down) >= quorum:
            result.status = "down"
            result.error = f"down from {', '.join(down)}: {reason}"
            # Consecutive failed attempts that a quorum of regions agree on.
            result.attempts = sorted(attempts[n] for n in down)[-quorum]
        else:
            result.status = "degraded"
            result.error = (
                f"down from {', '.join(down)} only ({len(down)} of {quorum} regions needed): "
                f"{reason}"
            )
