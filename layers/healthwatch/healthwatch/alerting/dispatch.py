"""The dispatcher: claim each check's new state in the store, then deliver its events.

A state is saved before its alerts go out: the save is the claim, guarded by the state's
version, so two overlapping runs of a tier never both send one alert. An event that could
not be delivered is written back into the state as pending, and the next run to save that
state sends it first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from healthwatch.alerting.maintenance import active_window
from healthwatch.alerting.state import apply
from healthwatch.errors import ConflictError, DeliveryError
from healthwatch.models import AlertEvent, AlertState, TierRun, utcnow

if TYPE_CHECKING:
    from healthwatch.config import Check, MaintenanceWindow
    from healthwatch.notify import Notifier
    from healthwatch.secrets import Secrets
    from healthwatch.storage import StateStore

log = logging.getLogger("healthwatch.alerting")

SAVE_ATTEMPTS = 5


class Dispatcher:
    """Decides, claims and delivers the alerts of one run's results."""

    def __init__(
        self,
        states: StateStore,
        notifier: Notifier | None,
        secrets: Secrets,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.states = states
        self.notifier = notifier
        self.secrets = secrets
        self.now = now

    def dispatch(
        self,
        run: TierRun,
        checks: Sequence[Check],
        states: Mapping[str, AlertState],
        windows: Sequence[MaintenanceWindow],
    ) -> list[str]:
        """Decide every check's alerts, save all states in one batch, then deliver.

        Returns the run's problems (undelivered alerts, lost races); the events this run
        produced are appended to `run.alerts`. A check whose save lost a race (another run
        of the tier wrote first) is decided again on the winner's state.
        """
        by_id = {c.id: c for c in checks}
        at = self.now()
        covering = {}
        for result in run.results:
            window = active_window(windows, result.check_id, run.tier, at)
            if window is not None:
                result.details["maintenance"] = window.name
            covering[result.check_id] = window
        saved, decided, problems = self._claim(run, by_id, states, covering, at)
        problems += self._deliver(run, saved, decided)
        return problems

    def _claim(
        self,
        run: TierRun,
        by_id: Mapping[str, Check],
        states: Mapping[str, AlertState],
        covering: Mapping[str, MaintenanceWindow | None],
        at: datetime,
    ) -> tuple[
        dict[str, AlertState], dict[str, tuple[list[AlertEvent], list[AlertEvent]]], list[str]
    ]:
        todo = {r.check_id: r for r in run.results}
        base = dict(states)
        saved: dict[str, AlertState] = {}
        decided: dict[str, tuple[list[AlertEvent], list[AlertEvent]]] = {}
        for _ in range(SAVE_ATTEMPTS):
            if not todo:
                break
            proposals = {}
            for cid, result in todo.items():
                new, events = apply(base[cid], result, by_id[cid], at, covering[cid])
                # Events an earlier run could not deliver are retried by whoever saves next.
                backlog = [AlertEvent.from_dict(e) for e in new.pending_events]
                new.pending_events = []
                proposals[cid] = (new, backlog, events)
            outcome = self.states.save_many([p[0] for p in proposals.values()])
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
                fresh = self.states.load(lost)
                for cid in lost:
                    fresh[cid].probe_memory.update(states[cid].probe_memory)
                    base[cid] = fresh[cid]
        problems = [f"{cid}: alert state kept changing under us; gave up" for cid in todo]
        return saved, decided, problems

    def _deliver(
        self,
        run: TierRun,
        saved: dict[str, AlertState],
        decided: Mapping[str, tuple[list[AlertEvent], list[AlertEvent]]],
    ) -> list[str]:
        problems: list[str] = []
        requeue = []
        for result in run.results:
            cid = result.check_id
            if cid not in decided:
                continue
            backlog, events = decided[cid]
            undelivered = []
            for i, event in enumerate(backlog + events):
                event = AlertEvent.from_dict(self.secrets.redact_obj(event.to_dict()))
                if i >= len(backlog):
                    run.alerts.append(event)
                if self.notifier is None:
                    continue
                try:
                    self.notifier.send(event)
                except DeliveryError as exc:
                    log.error(
                        "alert delivery failed", extra={"check_id": cid, "event": event.event}
                    )
                    undelivered.append(event)
                    problems.append(
                        f"{cid}: {event.event} alert not delivered: {self.secrets.redact(str(exc))}"
                    )
            if undelivered:
                run.undelivered.extend(undelivered)
                saved[cid].pending_events = [e.to_dict() for e in undelivered]
                requeue.append(saved[cid])
        if requeue:
            for cid, got in self.states.save_many(requeue).items():
                if isinstance(got, ConflictError):
                    problems.append(f"{cid}: could not queue undelivered alerts")
        return problems
