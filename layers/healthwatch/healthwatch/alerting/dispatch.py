"""The one dispatcher: claim a decision in the state store, then deliver its outbox.

Every kind of event (transitions, reminders, SLO burn, remediation, config problems) goes
this way. A decision is claimed by one conditional write of the new state, which holds the
new events in its outbox (`pending_events`): a run that dies after the claim leaves them
there for the next run, and two overlapping runs never both claim one transition. Delivery
then goes destination by destination (SNS; locally alerts.jsonl and each chat provider);
each destination that took an event is recorded, so a destination that failed is retried
alone and the others never get the event twice. An event leaves the outbox only when every
destination has it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from healthwatch.errors import ConflictError, DeliveryError
from healthwatch.models import AlertEvent, AlertState, Pending, TierRun, iso, utcnow
from healthwatch.notify import Notifier
from healthwatch.secrets import Secrets
from healthwatch.storage import StateStore

log = logging.getLogger("healthwatch.alerting")

SAVE_ATTEMPTS = 5
STALE_AFTER_RUNS = 3  # an event still pending after this many runs is a problem of the run
DEFAULT_SEND_BUDGET_S = 30.0  # a notifier that does not say how long one send can take
DEFAULT_LEASE_S = 600.0  # longer than any run lives (a Lambda lives 15 minutes at most)

# base state -> (new state, events): a pure decision, made again on a fresher state after
# a lost race.
Decide = Callable[[AlertState], tuple[AlertState, list[AlertEvent]]]


@dataclass
class Claims:
    """The states this run saved (their versions as written) and the events it produced."""

    states: dict[str, AlertState] = field(default_factory=dict)
    produced: list[AlertEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def merge(self, other: Claims) -> None:
        self.states.update(other.states)
        self.produced += other.produced
        self.problems += other.problems


class Dispatcher:
    """Claims decisions in `states` and delivers them to `notifiers`, within a time budget.

    `owner` names this run in the outbox; it may deliver an event only while it holds the
    event's lease, taken in the claim for `lease_s` seconds (the most this run can still
    live). `owner_gone(owner)` says a holder has died before its lease ran out (locally:
    its process is gone), so the next run need not wait for the lease.
    """

    def __init__(
        self,
        states: StateStore,
        notifiers: Sequence[Notifier],
        secrets: Secrets,
        now: Callable[[], datetime] = utcnow,
        time_left: Callable[[], float] | None = None,
        *,
        owner: str = "",
        lease_s: float = DEFAULT_LEASE_S,
        owner_gone: Callable[[str], bool] = lambda owner: False,
    ) -> None:
        self.states = states
        self.notifiers = list(notifiers)
        self.secrets = secrets
        self.now = now
        # Seconds left for this run (the Lambda's remaining time, less its tail).
        self.time_left = time_left or (lambda: float("inf"))
        self.owner = owner or f"run-{uuid.uuid4().hex[:12]}"
        self.lease_s = lease_s
        self.owner_gone = owner_gone

    def _lease(self, box: list[Pending], at: datetime) -> None:
        """Take every event of `box` that nobody else may be delivering right now."""
        until = iso(at + timedelta(seconds=self.lease_s))
        for pending in box:
            held = (
                pending.owner
                and pending.owner != self.owner
                and pending.lease_until > iso(at)
                and not self.owner_gone(pending.owner)
            )
            if not held:
                pending.owner, pending.lease_until = self.owner, until

    # -- claim -----------------------------------------------------------------------------

    def claim(
        self,
        decisions: Mapping[str, Decide],
        base: Mapping[str, AlertState],
        *,
        skip_unchanged: bool = False,
    ) -> Claims:
        """Decide each state, put its events in its outbox, and save all in one batch.

        A state whose save lost a race (another run of the tier wrote first) is decided
        again on the winner's state. With `skip_unchanged`, a decision that changes nothing
        and has nothing pending is not written.
        """
        out = Claims()
        todo = dict(decisions)
        current = dict(base)
        for _ in range(SAVE_ATTEMPTS):
            if not todo:
                break
            proposals: dict[str, tuple[AlertState, list[AlertEvent]]] = {}
            at = self.now()
            for sid, decide in todo.items():
                new, events = decide(current[sid])
                events = [self._clean(e) for e in events]
                if skip_unchanged and not events and not new.pending_events and new == current[sid]:
                    continue
                box = [*new.outbox(), *(Pending(e) for e in events)]
                self._lease(box, at)
                new.pending_events = [p.to_dict() for p in box]
                proposals[sid] = (new, events)
            todo = {sid: todo[sid] for sid in proposals}
            if not proposals:
                break
            outcome = self.states.save_many([p[0] for p in proposals.values()])
            lost = []
            for sid, (_, events) in proposals.items():
                got = outcome[sid]
                if isinstance(got, AlertState):
                    out.states[sid] = got
                    out.produced += events
                    del todo[sid]
                else:
                    lost.append(sid)
            if lost:
                fresh = self.states.load(lost)
                for sid in lost:
                    # The probe's own counters are this run's, whoever saved first.
                    fresh[sid].probe_memory.update(current[sid].probe_memory)
                    current[sid] = fresh[sid]
        out.problems += [f"{sid}: alert state kept changing under us; gave up" for sid in todo]
        return out

    def _clean(self, event: AlertEvent) -> AlertEvent:
        return AlertEvent.from_dict(self.secrets.redact_obj(event.to_dict()))

    # -- deliver ---------------------------------------------------------------------------

    def deliver(self, run: TierRun, claimed: Mapping[str, AlertState]) -> list[str]:
        """Send every pending event of `claimed`, oldest first, to each destination that
        does not have it yet; then write back what is left. Returns the run's problems."""
        problems: list[str] = []
        outboxes = {sid: s.outbox() for sid, s in claimed.items() if s.pending_events}
        queue = sorted(
            ((p.event.at, sid, p) for sid, box in outboxes.items() for p in box if self._mine(p)),
            key=lambda item: item[0],
        )
        out_of_time = False
        for _, sid, pending in queue:
            for notifier in self.notifiers:
                name = notifier.name
                if name in pending.delivered:
                    continue
                if out_of_time or self.time_left() < _budget(notifier):
                    out_of_time = True
                    continue
                try:
                    notifier.send(pending.event)
                except DeliveryError as exc:
                    extra = {"check_id": sid, "event": pending.event.event, "destination": name}
                    log.error("alert delivery failed", extra=extra)
                    text = self.secrets.redact(str(exc))
                    problems.append(f"{sid}: {pending.event.event} alert not delivered: {text}")
                    continue
                pending.delivered.append(name)
            if self._done(pending):
                run.delivered.append(pending.event)
            else:
                pending.tries += 1
                run.undelivered.append(pending.event)
                if pending.tries >= STALE_AFTER_RUNS:
                    problems.append(
                        f"{sid}: {pending.event.event} alert {pending.event.id} pending for "
                        f"{pending.tries} runs"
                    )
        if out_of_time:
            problems.append("alert delivery: out of time; the rest stays pending for the next run")
        problems += self._write_back(claimed, outboxes)
        return problems

    def _released(self, pending: Pending) -> Pending:
        if pending.owner == self.owner:
            pending.owner, pending.lease_until = "", ""
        return pending

    def _mine(self, pending: Pending) -> bool:
        return pending.owner == self.owner and pending.lease_until > iso(self.now())

    def _done(self, pending: Pending) -> bool:
        return all(n.name in pending.delivered for n in self.notifiers)

    def _write_back(
        self, claimed: Mapping[str, AlertState], outboxes: Mapping[str, list[Pending]]
    ) -> list[str]:
        """Save each changed outbox on the state as claimed, releasing this run's leases (a
        run that finished leaves the rest to the next one at once); after a lost race, apply
        the deliveries (by event id) to the winner's outbox instead."""
        todo = {}
        for sid, box in outboxes.items():
            left = [self._released(p).to_dict() for p in box if not self._done(p)]
            if left != claimed[sid].pending_events:
                state = claimed[sid]
                state.pending_events = left
                todo[sid] = state
        delivered = {p.event.id: p for box in outboxes.values() for p in box}
        for _ in range(SAVE_ATTEMPTS):
            if not todo:
                return []
            outcome = self.states.save_many(list(todo.values()))
            lost = [sid for sid, got in outcome.items() if isinstance(got, ConflictError)]
            for sid, got in outcome.items():
                if isinstance(got, AlertState):
                    del todo[sid]
            if lost:
                fresh = self.states.load(lost)
                for sid in lost:
                    state = fresh[sid]
                    state.pending_events = [
                        p.to_dict()
                        for p in _updated(state.outbox(), delivered)
                        if not self._done(p)
                    ]
                    todo[sid] = state
        return [f"{sid}: could not record which alerts were delivered" for sid in todo]


def _updated(box: Iterable[Pending], delivered: Mapping[str, Pending]) -> list[Pending]:
    out = []
    for pending in box:
        ours = delivered.get(pending.event.id)
        if ours is not None:
            pending.delivered = sorted(set(pending.delivered) | set(ours.delivered))
            pending.tries = max(pending.tries, ours.tries)
        out.append(pending)
    return out


def _budget(notifier: Notifier) -> float:
    return float(getattr(notifier, "worst_case_s", DEFAULT_SEND_BUDGET_S))
