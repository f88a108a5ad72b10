"""SLO burn: multi-window error-budget burn-rate alerts (Google SRE workbook), after every run."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from healthwatch.alerting.dispatch import Claims, Decide, Dispatcher
from healthwatch.alerting.maintenance import active_window
from healthwatch.alerting.state import event_for
from healthwatch.errors import DeliveryError
from healthwatch.models import (
    OUTCOME_DOWN,
    OUTCOME_EXCLUDED,
    AlertEvent,
    AlertState,
    EventKind,
    Outcomes,
    Result,
    TierRun,
    iso,
    parse_iso,
    slo_outcome,
    utcnow,
)
from healthwatch.secrets import Secrets

if TYPE_CHECKING:
    from healthwatch.config import Check, Config
    from healthwatch.notify import Notifier
    from healthwatch.storage import HistoryStore, StateStore

log = logging.getLogger("healthwatch.slo")

STATE_PREFIX = "slo:"  # `:` cannot occur in a check id, so these states never collide with one
BUDGET_PERIOD_S = 30 * 86400  # the period an error budget is quoted over


def state_id(check_id: str) -> str:
    return f"{STATE_PREFIX}{check_id}"


def burn_rate(records: Iterable[Result], availability: float) -> float | None:
    """Error ratio over the budget ratio: 1 spends the budget exactly over its period.

    Errors are `down` runs (as in uptime); maintenance results and config problems (a
    missing secret: the config is wrong, not the target) do not count. None: no data.
    """
    outcomes = [slo_outcome(r) for r in records]
    counted = [o for o in outcomes if o != OUTCOME_EXCLUDED]
    return rate(counted.count(OUTCOME_DOWN), len(counted), availability)


def rate(bad: int, counted: int, availability: float) -> float | None:
    """The burn rate of `bad` failed runs out of `counted`; None without any."""
    if not counted:
        return None
    budget = 1 - availability / 100
    if budget <= 0:
        return float("inf") if bad else 0.0
    return (bad / counted) / budget


@dataclass
class Burn:
    short: float | None
    long: float | None
    threshold: float
    short_window_s: float
    long_window_s: float
    availability: float

    @property
    def firing(self) -> bool:
        """Both windows over the threshold: fast enough to matter, and still going on."""
        return (
            self.short is not None
            and self.long is not None
            and self.short > self.threshold
            and self.long > self.threshold
        )

    @property
    def recovered(self) -> bool:
        return self.short is None or self.short < self.threshold

    def details(self) -> dict[str, Any]:
        lasts = None
        if self.long:
            lasts = round(BUDGET_PERIOD_S / self.long) if self.long != float("inf") else 0
        return {
            "incident": "slo_burn",
            "availability_target": self.availability,
            "burn_rate_short": _r(self.short),
            "burn_rate_long": _r(self.long),
            "burn_rate_threshold": self.threshold,
            "short_window_s": self.short_window_s,
            "long_window_s": self.long_window_s,
            "budget_lasts_s": lasts,  # a 30-day budget, spent at the long window's rate
        }

    def message(self) -> str:
        from healthwatch.durations import format_duration

        text = (
            f"slo_burn: error budget burning {_x(self.short)} over "
            f"{format_duration(self.short_window_s)} and {_x(self.long)} over "
            f"{format_duration(self.long_window_s)} (threshold {self.threshold:g}x, "
            f"target {self.availability:g}%)"
        )
        lasts = self.details()["budget_lasts_s"]
        if lasts is not None:
            text += f"; a 30-day budget lasts {format_duration(lasts)} at this rate"
        return text


def _r(value: float | None) -> float | None:
    return None if value is None else round(min(value, 1e9), 2)


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


SILENT = "slo_burn_during_incident"  # opened while the check's own incident was open


def decide(
    state: AlertState,
    burn: Burn,
    result: Result,
    check: Check,
    at: datetime,
    maintenance: bool = False,
    covered: bool = False,
) -> tuple[AlertState, list[AlertEvent]]:
    """The SLO incident after this run's burn rates; `state` is not modified.

    `covered`: the check's own incident is open, so people already know; a burn that starts
    then is opened silently and closes silently, so one outage never pages twice. The SLO
    alert is for what the check's incident does not catch: failures too scattered to reach
    `failure_threshold` in a row.
    """
    new = dataclasses.replace(
        state, recent=list(state.recent), pending_events=list(state.pending_events)
    )
    stamp = iso(at)
    new.tier = result.tier
    events: list[AlertEvent] = []
    if not new.incident_open:
        if burn.firing and not maintenance:
            new.incident_open = True
            new.incident_kind = SILENT if covered else "slo_burn"
            new.incident_started_at = stamp
            new.status = "down"
            if not covered:
                new.last_notified_at = stamp
                events.append(_event("slo_burn", new, burn, result, check, stamp))
    elif burn.recovered:
        if new.incident_kind != SILENT:
            events.append(_event("resolved", new, burn, result, check, stamp, with_error=False))
        new.incident_open = False
        new.incident_kind = None
        new.incident_started_at = None
        new.last_notified_at = stamp
        new.status = "up"
    # No reminders: a burn that goes on keeps the check failing, and the check's own
    # incident sends those; this one resolves within the short window of the last failure.
    return new, events


def _event(
    kind: EventKind,
    state: AlertState,
    burn: Burn,
    result: Result,
    check: Check,
    stamp: str,
    with_error: bool = True,
) -> AlertEvent:
    return event_for(
        kind,
        check,
        result,
        started_at=state.incident_started_at or stamp,
        at=stamp,
        error=burn.message() if with_error else None,
        details=burn.details(),
        reason=burn.message() if with_error else f"{check.name} is within its error budget again",
    )


class SloBurnAlerts:
    """Per check with an availability target, open or resolve an SLO incident.

    The incident lives in the StateStore under `slo:{check_id}`; its decisions are claimed
    and delivered by the one `Dispatcher`, as the check's own are. The engine calls `claim`
    between storing the results and delivering; called on its own (`hook(run)`), it claims
    and delivers at once and raises `DeliveryError` naming what was not delivered.
    """

    def __init__(
        self,
        config: Config,
        states: StateStore,
        history: HistoryStore,
        notifier: Notifier | None = None,
        secrets: Secrets | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.states = states
        self.history = history
        self.notifiers = [notifier] if notifier is not None else []
        self.secrets = secrets or Secrets.local({})
        self.now = now

    def claim(self, run: TierRun, dispatcher: Dispatcher) -> Claims:
        """Decide each check's SLO incident on this run's result and claim the decisions."""
        if self.config.slo is None:
            return Claims()
        at = self.now()
        checks = []
        for result in run.results:
            try:
                checks.append((self.config.check(result.check_id), result))
            except KeyError:
                continue
        burns = self.burns(run, at)
        slo_states = self.states.load([state_id(c.id) for c, _ in checks])
        # Only a burn that starts or ends, or an event still to deliver, needs a decision;
        # the rest (nearly every check, nearly every run) are not decided or written at all.
        moving = []
        for check, result in checks:
            slo_state, burn = slo_states[state_id(check.id)], burns[check.id]
            if (
                slo_state.pending_events
                or burn.firing != slo_state.incident_open
                or (slo_state.incident_open and burn.recovered)
            ):
                moving.append((check, result))
        own = self.states.load([c.id for c, _ in moving]) if moving else {}
        states = {**slo_states, **own}
        decisions: dict[str, Decide] = {}
        for check, result in moving:
            window = active_window(self.config.maintenance, check.id, run.tier, at)
            decisions[state_id(check.id)] = functools.partial(
                decide,
                burn=burns[check.id],
                result=result,
                check=check,
                at=at,
                maintenance=window is not None or bool(result.details.get("silenced")),
                covered=states[check.id].incident_open,
            )
        if not decisions:
            return Claims()
        base = {sid: states[sid] for sid in decisions}
        return dispatcher.claim(decisions, base, skip_unchanged=True)

    def __call__(self, run: TierRun) -> None:
        dispatcher = Dispatcher(self.states, self.notifiers, self.secrets, self.now)
        claims = self.claim(run, dispatcher)
        run.alerts += claims.produced
        problems = claims.problems + dispatcher.deliver(run, claims.states)
        if problems:
            raise DeliveryError("slo burn: " + "; ".join(problems))

    def burns(self, run: TierRun, at: datetime) -> dict[str, Burn]:
        """Each of the run's checks' burn rates, from one read of the tier's run rollups.

        The work is the checks times the runs in the long window (24 at 15 minutes over
        6 h), never the stored history: rollups outside the window are not read.
        """
        slo = self.config.slo
        assert slo is not None
        short_s, long_s = float(slo.burn_short_window), float(slo.burn_long_window)
        since = at - timedelta(seconds=max(short_s, long_s))
        short_since = iso(at - timedelta(seconds=short_s))
        rollups = self.history.outcomes(run.tier, since, at + timedelta(seconds=1))
        if run.run_id not in {r.run_id for r in rollups} and since <= parse_iso(run.started_at):
            rollups.append(Outcomes.of(run))  # this run, should the history not have it yet
        # per check: [counted, down] over the long window, then over the short one
        tally = {r.check_id: [0, 0, 0, 0] for r in run.results}
        for rollup in rollups:
            short = rollup.started_at >= short_since
            for outcome, check_ids in rollup.by_outcome.items():
                if outcome == OUTCOME_EXCLUDED:
                    continue
                down = outcome == OUTCOME_DOWN
                for check_id in check_ids:
                    counts = tally.get(check_id)
                    if counts is None:
                        continue
                    counts[0] += 1
                    counts[1] += down
                    if short:
                        counts[2] += 1
                        counts[3] += down
        return {
            check_id: Burn(
                rate(short_bad, short_n, slo.availability),
                rate(bad, n, slo.availability),
                slo.burn_rate_threshold,
                short_s,
                long_s,
                slo.availability,
            )
            for check_id, (n, bad, short_n, short_bad) in tally.items()
        }
