"""The records that cross module boundaries: results, alert state, alert events, tier runs."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Self

from healthwatch.codec import dumps

Status = Literal["up", "degraded", "down"]
EventKind = Literal["triggered", "resolved", "reminder", "slo_burn", "remediated", "config_problem"]

STATUS_RANK = {"up": 0, "degraded": 1, "down": 2}


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """`2026-11-26T20:45:00.123Z`: the one timestamp format of records and keys (formatted
    by hand: a few per check per run, and `strftime` is twice the cost)."""
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return (
        f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T"
        f"{ts.hour:02d}:{ts.minute:02d}:{ts.second:02d}.{ts.microsecond // 1000:03d}Z"
    )


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def is_config_problem(result: Result) -> bool:
    """A result that failed because of the config (a secret that cannot be resolved), not
    because of the target: a config_problem to fix, not an outage or an SLO burn."""
    return is_config_error(result.error)


def is_config_error(error: object) -> bool:
    """`error` (a record's) says the config cannot run the check, not that the target failed."""
    return isinstance(error, str) and error.startswith("secret:")


def in_maintenance(result: Result) -> bool:
    """A result taken in a maintenance window or under a silence (not counted against
    uptime or the SLO)."""
    return bool(result.details.get("maintenance") or result.details.get("silenced"))


# A result as the SLO counts it: up (or degraded), down, or excluded (maintenance, config).
OUTCOME_UP, OUTCOME_DOWN, OUTCOME_EXCLUDED = "u", "d", "x"


def slo_outcome(result: Result) -> str:
    if in_maintenance(result) or is_config_problem(result):
        return OUTCOME_EXCLUDED
    return OUTCOME_DOWN if result.status == "down" else OUTCOME_UP


@dataclass
class Outcomes:
    """One run's rollup: which checks were up, down or excluded. The SLO burn reads these,
    one small record per run, instead of every result of every check."""

    run_id: str
    started_at: str
    by_outcome: dict[str, list[str]]

    @classmethod
    def of(cls, run: TierRun) -> Outcomes:
        by: dict[str, list[str]] = {}
        for r in run.results:
            by.setdefault(slo_outcome(r), []).append(r.check_id)
        return cls(run.run_id, run.started_at, by)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at, "outcomes": self.by_outcome}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcomes:
        return cls(str(data["run_id"]), str(data["started_at"]), dict(data["outcomes"]))


def worst(*statuses: Status) -> Status:
    return max(statuses, key=STATUS_RANK.__getitem__)


class Record:
    """JSON round trip for the record dataclasses; unknown keys (a newer writer's) are ignored."""

    __slots__ = ()  # so a record with slots (Result) has no dict as well

    def to_dict(self) -> dict[str, Any]:
        """The record as plain data (lists and dicts copied), as `dataclasses.asdict` gives
        it, without asdict's `deepcopy` of every leaf: records are JSON data."""
        names = _field_names(type(self))  # type: ignore[arg-type]
        return {name: _plain(getattr(self, name)) for name in names}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = _field_set(cls)  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(slots=True)
class Result(Record):
    """One check, one run: the line in S3, the item in history, the element of `--json`.

    Slotted: a run holds one per check until it is stored (without a dict each, 10,000
    results take 5 MB less)."""

    run_id: str
    tier: str
    check_id: str
    check_name: str
    type: str
    target: str
    started_at: str
    status: Status
    latency_ms: float | None
    http_status: int | None = None
    error: str | None = None
    attempts: int = 1
    conditions: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as plain data, its lists and dicts copied one level down: a record is
        serialised for every store, so this is not `dataclasses.asdict`'s deep copy."""
        return {
            "run_id": self.run_id,
            "tier": self.tier,
            "check_id": self.check_id,
            "check_name": self.check_name,
            "type": self.type,
            "target": self.target,
            "started_at": self.started_at,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "http_status": self.http_status,
            "error": self.error,
            "attempts": self.attempts,
            "conditions": [dict(c) for c in self.conditions],
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**{k: v for k, v in data.items() if k in _RESULT_FIELDS})


@dataclass(slots=True)
class AlertState(Record):
    """Per-check memory between runs; `version` guards against two runs writing at once.

    Slotted: a run holds up to three per check (loaded, decided, saved)."""

    check_id: str
    status: Status = "up"
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    failing_since: str | None = None
    incident_open: bool = False
    incident_started_at: str | None = None
    incident_kind: str | None = None
    last_notified_at: str | None = None
    last_result_at: str | None = None
    recent: list[dict[str, Any]] = field(default_factory=list)
    probe_memory: dict[str, Any] = field(default_factory=dict)
    # The outbox: `Pending.to_dict()` of every event not yet taken by every destination.
    pending_events: list[dict[str, Any]] = field(default_factory=list)
    # The config problem already announced (an unresolvable secret), until it is fixed.
    config_problem: str | None = None
    tier: str | None = None  # the tier of the check's last result (reading without a config)
    version: int = 0

    def outbox(self) -> list[Pending]:
        return [Pending.from_dict(p) for p in self.pending_events]

    def to_dict(self) -> dict[str, Any]:
        """`Record.to_dict`, written out: every state is serialised on every run."""
        return {
            "check_id": self.check_id,
            "status": self.status,
            "consecutive_failures": self.consecutive_failures,
            "consecutive_successes": self.consecutive_successes,
            "failing_since": self.failing_since,
            "incident_open": self.incident_open,
            "incident_started_at": self.incident_started_at,
            "incident_kind": self.incident_kind,
            "last_notified_at": self.last_notified_at,
            "last_result_at": self.last_result_at,
            "recent": [_plain(r) for r in self.recent],
            "probe_memory": _plain(self.probe_memory) if self.probe_memory else {},
            "pending_events": _plain(self.pending_events) if self.pending_events else [],
            "config_problem": self.config_problem,
            "tier": self.tier,
            "version": self.version,
        }

    def copy(self) -> AlertState:
        """A copy whose lists and dicts can be changed without touching this one (the
        state machine's starting point: `dataclasses.replace` costs ten times as much)."""
        return self._with_lists(
            list(self.recent), dict(self.probe_memory), list(self.pending_events), self.version
        )

    def at_version(self, version: int) -> AlertState:
        """This state as saved at `version`, sharing its lists and dicts: what a store hands
        back for a state its caller has finished deciding (a copy of each list per saved
        state was 2 MB at 10,000 checks)."""
        return self._with_lists(self.recent, self.probe_memory, self.pending_events, version)

    def _with_lists(
        self,
        recent: list[dict[str, Any]],
        probe_memory: dict[str, Any],
        pending_events: list[dict[str, Any]],
        version: int,
    ) -> AlertState:
        return AlertState(
            self.check_id,
            self.status,
            self.consecutive_failures,
            self.consecutive_successes,
            self.failing_since,
            self.incident_open,
            self.incident_started_at,
            self.incident_kind,
            self.last_notified_at,
            self.last_result_at,
            recent,
            probe_memory,
            pending_events,
            self.config_problem,
            self.tier,
            version,
        )


@dataclass
class AlertEvent(Record):
    """A transition or reminder, as published to SNS, appended to alerts.jsonl, posted to chat."""

    event: EventKind
    check_id: str
    check_name: str
    tier: str
    status: Status
    started_at: str
    at: str
    error: str | None
    result: dict[str, Any]
    severity: str = "critical"
    target: str = ""
    run_id: str = ""
    recent: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # one line a person reads: what broke
    action: str = ""  # what to do, when the probe knows
    runbook: str = ""  # from the check
    links: dict[str, str] = field(default_factory=dict)  # from the check: name -> URL
    # Unique per event and the same on every retry and redelivery: the idempotency key.
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = event_id(self.check_id, self.event, self.started_at, self.at)


def event_id(check_id: str, kind: str, started_at: str, at: str) -> str:
    """Derived from what makes an event itself, so an event rebuilt from a stored copy (or
    decided again after a lost race on the same state) keeps its id."""
    digest = hashlib.sha256(f"{check_id}\n{kind}\n{started_at}\n{at}".encode()).hexdigest()
    return f"{kind[:3]}-{digest[:20]}"


@dataclass
class Pending:
    """An event in a state's outbox: which destinations already took it, and how many runs
    have tried to deliver the rest."""

    event: AlertEvent
    delivered: list[str] = field(default_factory=list)
    tries: int = 0
    # The run that may deliver it now, and until when (`iso`): taken in the claim, so two
    # overlapping runs never both send it; a lease that lapsed is taken by the next run.
    owner: str = ""
    lease_until: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event.to_dict(),
            "delivered": list(self.delivered),
            "tries": self.tries,
            "owner": self.owner,
            "lease_until": self.lease_until,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pending:
        if not isinstance(data.get("event"), dict):  # written before the outbox: a bare event
            return cls(AlertEvent.from_dict(data))
        return cls(
            AlertEvent.from_dict(data["event"]),
            [str(d) for d in data.get("delivered") or []],
            int(data.get("tries") or 0),
            str(data.get("owner") or ""),
            str(data.get("lease_until") or ""),
        )


@dataclass
class TierRun:
    """One run of one tier: the `--json` document of `healthwatch run`."""

    run_id: str
    tier: str
    started_at: str
    duration_ms: float
    results: list[Result]
    alerts: list[AlertEvent] = field(default_factory=list)  # produced by this run
    delivered: list[AlertEvent] = field(default_factory=list)  # delivered by it (older ones too)
    undelivered: list[AlertEvent] = field(default_factory=list)  # still pending after it
    # Shard `shard` of `shards` (DESIGN.md "Scale"): a tier too big for one invocation.
    shard: int = 0
    shards: int = 1
    _lines: list[bytes] | None = field(default=None, init=False, repr=False, compare=False)

    def result_lines(self) -> list[bytes]:
        """Each result as one compact JSON text, serialised once for every store that
        writes them (the JSON Lines object, `latest/{tier}.json`). The results are final
        by then: they are stored after the alerts were decided."""
        if self._lines is None or len(self._lines) != len(self.results):
            self._lines = [dumps(r.to_dict()) for r in self.results]
        return self._lines

    def release_lines(self) -> None:
        """Drop the serialised lines once every store has them (`result_lines` makes them
        again if asked)."""
        self._lines = None

    def counts(self) -> dict[str, int]:
        out = {"up": 0, "degraded": 0, "down": 0}
        for r in self.results:
            out[r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "tier": self.tier,
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            **self.shard_fields(),
            "results": [r.to_dict() for r in self.results],
            "alerts": [a.to_dict() for a in self.alerts],
        }

    def shard_fields(self) -> dict[str, int]:
        """`shard` and `shards`, for a split tier only (a whole tier's documents are as before)."""
        return {"shard": self.shard, "shards": self.shards} if self.shards > 1 else {}

    def summary(self) -> dict[str, Any]:
        """The run summary: what the handler returns and the `tier#` history item holds."""
        slowest = max(
            (r for r in self.results if r.latency_ms is not None),
            key=lambda r: r.latency_ms or 0.0,
            default=None,
        )
        return {
            "run_id": self.run_id,
            "tier": self.tier,
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            **self.shard_fields(),
            "checks": len(self.results),
            **self.counts(),
            "alerts": len(self.delivered),
            "undelivered": len(self.undelivered),
            "slowest": None
            if slowest is None
            else {"check_id": slowest.check_id, "latency_ms": slowest.latency_ms},
        }


_RESULT_FIELDS = frozenset(f.name for f in dataclasses.fields(Result))


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.cache
def _field_set(cls: type) -> frozenset[str]:
    return frozenset(_field_names(cls))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value
