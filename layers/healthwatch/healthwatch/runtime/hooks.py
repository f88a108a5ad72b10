"""The after-run hooks: what runs after every tier run, on any backend, given only its ports."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from healthwatch.alerting.slo import SloBurnAlerts
from healthwatch.codec import dumps
from healthwatch.engine import shards
from healthwatch.models import TierRun, parse_iso, utcnow
from healthwatch.storage.keys import STATUS_PAGE_KEY
from healthwatch.views import reliability, statuspage
from healthwatch.views.report import build_report

if TYPE_CHECKING:
    from healthwatch.config import Config
    from healthwatch.storage import HistoryStore, ResultStore, StateStore

Hook = Callable[[TierRun], None]
SPOOL_BYTES = 2 << 20  # a status page bigger than this (about 200 checks) goes through a file


def _put_written(
    store: ResultStore, key: str, content_type: str, write: Callable[[BinaryIO], None]
) -> None:
    """Store what `write` writes, spooled: a small document stays in memory, a big one (the
    page, the rollup of 10,000 checks) goes through a temporary file, never one bytes object."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spooled:
        body = cast("BinaryIO", spooled)  # a file object, as typeshed does not say
        write(body)
        body.seek(0)
        store.put_document(key, body, content_type)


class StatusPageWriter:
    """Fold the run into `status/rollup-{tier}.json`, then write the page.

    Each run reads one rollup per tier (per shard of a split tier) and writes its own,
    whatever the history's length. Two
    runs of one tier that overlap could lose one run's counts (the results store has no
    conditional put); a tier's runs overlapping is already a fault.
    """

    def __init__(
        self,
        config: Config,
        results: ResultStore,
        now: Callable[[], datetime] = utcnow,
        title: str = statuspage.TITLE,
    ) -> None:
        self.config = config
        self.results = results
        self.now = now
        self.title = title

    def __call__(self, run: TierRun) -> None:
        store = self.results
        now = self.now()
        key = statuspage.rollup_key(run.tier, run.shard, run.shards)
        doc = statuspage.load_rollup(store.get_document(key), run.tier)
        statuspage.merge(doc, run.results, now, run_id=run.run_id)
        configured = (
            {c.id for c in self.config.checks_for(run.tier)}
            if run.tier in self.config.tiers
            else set()
        )
        doc["checks"] = {k: v for k, v in doc["checks"].items() if k in configured}
        _put_written(store, key, "application/json", lambda out: statuspage.write_rollup(out, doc))
        if run.shards > 1:
            # A split tier's page is rendered by shard 0 (so it is rendered even when a
            # shard never runs) and by the shard that finds every shard done with this run
            # (so the page has the whole run): at most twice per run, not once per shard.
            # Each shard says which run it folded in last, in a marker of a few bytes.
            marker = statuspage.done_key(run.tier, run.shard, run.shards)
            store.put_document(marker, run.run_id.encode(), "text/plain")
            done = (
                store.get_document(statuspage.done_key(run.tier, k, run.shards))
                for k in range(run.shards)
                if k != run.shard
            )
            if run.shard != 0 and not all(d == run.run_id.encode() for d in done):
                return
        own = [
            doc if k == run.shard else self._rollup(run.tier, k, run.shards)
            for k in range(run.shards)
        ]
        rollups = {run.tier: statuspage.combine(own, run.tier)}
        for tier in self.config.tiers:
            if tier != run.tier:
                count = shards.plan(self.config, tier)
                docs = [self._rollup(tier, k, count) for k in range(count)]
                rollups[tier] = statuspage.combine(docs, tier)
        _put_written(
            store,
            STATUS_PAGE_KEY,
            "text/html; charset=utf-8",
            lambda out: statuspage.render_into(out, self.config, rollups, now, self.title),
        )

    def _rollup(self, tier: str, shard: int, shards: int) -> dict[str, Any]:
        raw = self.results.get_document(statuspage.rollup_key(tier, shard, shards))
        return statuspage.load_rollup(raw, tier)


class ReliabilityLog:
    """Each run of the report tier writes `reports/reliability-{time}.md` (and
    `reports/reliability.md`, the latest) covering the time since the previous one."""

    def __init__(
        self,
        config: Config,
        results: ResultStore,
        history: HistoryStore | None,
        now: Callable[[], datetime] = utcnow,
        states: StateStore | None = None,
    ) -> None:
        self.config = config
        self.results = results
        self.history = history
        self.now = now
        self.states = states  # where an open incident's real start is

    def __call__(self, run: TierRun) -> None:
        store = self.results
        if run.tier != reliability.report_tier(self.config) or run.shard != 0:
            return  # one report per run of the report tier: shard 0's
        now = self.now()
        raw = store.get_document(reliability.SNAPSHOT_KEY)
        previous = json.loads(raw) if raw else None
        if previous:
            # The previous report covered up to and including its own moment.
            since = max(
                parse_iso(previous["at"]) + timedelta(milliseconds=1),
                now - timedelta(seconds=reliability.MAX_PERIOD_S),
            )
        else:
            period = self.config.tiers[run.tier].period_seconds or reliability.DEFAULT_PERIOD_S
            since = now - timedelta(seconds=period)
        records = []
        if self.history is not None:
            # This run's results are at hand: not read back (10,000 of them are 10 MB). The
            # other shards of a split tier share the run id: their results are read.
            until = now + timedelta(seconds=1)
            skip = run.run_id if run.shards == 1 else None
            records = list(self.history.query_all(since, until, skip_run=skip))
        seen = {(r.check_id, r.started_at) for r in records}
        records += [r for r in run.results if (r.check_id, r.started_at) not in seen]
        records.sort(key=lambda r: r.started_at)
        report = build_report(records, self.config, since, now)
        snap = reliability.snapshot(report, records, now)
        still_open = sorted(
            {
                i.check_id
                for rows in report.tiers.values()
                for row in rows
                for i in row.stats.incident_list
                if i.ended_at is None
            }
        )
        open_since = {}
        if self.states is not None and still_open:
            for cid, state in self.states.load(still_open).items():
                if state.incident_open and state.incident_started_at:
                    open_since[cid] = state.incident_started_at
        text = reliability.render_markdown(report, snap, previous, run, open_since).encode()
        store.put_document(reliability.report_key(now), text, "text/markdown; charset=utf-8")
        store.put_document(reliability.LATEST_KEY, text, "text/markdown; charset=utf-8")
        store.put_document(reliability.SNAPSHOT_KEY, dumps(snap), "application/json")


def slo_burn(
    config: Config, states: StateStore, history: HistoryStore | None
) -> SloBurnAlerts | None:
    """The SLO burn decision, when the config sets an SLO and there is history to read."""
    if config.slo is None or history is None:
        return None
    return SloBurnAlerts(config, states, history)


def after_run_hooks(
    config: Config,
    *,
    results: ResultStore | None,
    history: HistoryStore | None,
    states: StateStore | None = None,
) -> list[Hook]:
    """The hooks of one backend (after delivery), each failure surfaced by the engine."""
    out: list[Hook] = []
    if results is not None:
        out.append(StatusPageWriter(config, results))
        out.append(ReliabilityLog(config, results, history, states=states))
    return out
