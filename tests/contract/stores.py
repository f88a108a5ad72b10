"""The store contract: the scenarios every StateStore / HistoryStore / ResultStore passes.

Written once; an adapter's test module subclasses `StoreContract` and supplies a `store`
fixture (an object with the three ports' methods), and pytest collects every scenario there.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from healthwatch.errors import ConflictError
from healthwatch.models import AlertState, TierRun, iso

from tests.helpers import result

T0 = datetime(2026, 11, 26, 20, 45, tzinfo=UTC)


def _run(tier: str, at: datetime, statuses: dict[str, str]) -> TierRun:
    stamp = at.strftime("%Y-%m-%dT%H-%M-%SZ")
    results = [
        result(cid, status, at=at, tier=tier, error="timeout: x" if status == "down" else None)
        for cid, status in statuses.items()
    ]
    for r in results:
        r.run_id = f"{tier}-{stamp}-ab12"
    return TierRun(f"{tier}-{stamp}-ab12", tier, results[0].started_at, 10.0, results)


class StoreContract:
    """Subclass it as `Test...` and define a `store` fixture."""

    def test_state_starts_fresh(self, store):
        states = store.load(["a", "b"])
        assert set(states) == {"a", "b"}
        assert states["a"].version == 0 and not states["a"].incident_open

    def test_state_round_trip_and_version(self, store):
        state = AlertState(
            check_id="a",
            consecutive_failures=2,
            incident_open=True,
            incident_started_at="2026-11-26T20:45:00.000Z",
            recent=[{"at": "x", "status": "down"}],
            probe_memory={"m1": {"critical_runs": 2}},
        )
        saved = store.save(state)
        assert saved.version == 1
        loaded = store.load(["a"])["a"]
        assert loaded == saved

    def test_load_all_returns_every_stored_state_and_nothing_else(self, store):
        assert store.load_all() == {}
        saved = [store.save(AlertState(check_id=cid, incident_open=cid == "b")) for cid in "ab"]
        run = _run("quick", T0, {"a": "down"})
        store.write_run(run)
        store.put_results(run)  # results and rollups are not states
        assert store.load_all() == {s.check_id: s for s in saved}

    def test_stale_write_is_a_conflict(self, store):
        first = store.save(AlertState(check_id="a"))
        store.save(first)  # version 1 -> 2
        with pytest.raises(ConflictError):
            store.save(first)  # still claims version 1
        assert store.load(["a"])["a"].version == 2

    def test_two_writers_one_winner(self, store):
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def write(n: int) -> None:
            barrier.wait()
            try:
                store.save(AlertState(check_id="race", consecutive_failures=n))
                outcomes.append("saved")
            except ConflictError:
                outcomes.append("conflict")

        threads = [threading.Thread(target=write, args=(n,)) for n in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["conflict", "saved"]

    def test_history_by_check_and_window(self, store):
        for i, status in enumerate(["up", "down", "up", "degraded"]):
            run = _run("quick", T0 + timedelta(minutes=15 * i), {"a": status, "b": "up"})
            store.write_run(run)
            store.put_results(run)
        got = store.query("a", T0 + timedelta(minutes=10), T0 + timedelta(hours=1))
        assert [r.status for r in got] == ["down", "up", "degraded"]
        assert all(r.check_id == "a" for r in got)
        everything = list(store.query_all(T0, T0 + timedelta(hours=1)))
        assert len(everything) == 8
        but_last = list(store.query_all(T0, T0 + timedelta(hours=1), skip_run=run.run_id))
        assert len(but_last) == 6 and run.run_id not in {r.run_id for r in but_last}
        assert everything[0] in run.results or everything[0].started_at < run.results[0].started_at
        assert {"run_id", "tier", "check_id", "status", "latency_ms", "started_at"} <= set(
            everything[0].to_dict()
        )

    def test_history_spans_days(self, store):
        late = datetime(2026, 11, 25, 23, 50, tzinfo=UTC)
        for at in (late, late + timedelta(minutes=20)):
            run = _run("quick", at, {"a": "up"})
            store.write_run(run)
            store.put_results(run)
        got = store.query("a", late - timedelta(minutes=1), late + timedelta(hours=1))
        assert [r.started_at[:10] for r in got] == ["2026-11-25", "2026-11-26"]

    def test_outcomes_are_one_rollup_per_run_in_the_window(self, store):
        # Given four runs of a tier (and one of another tier) stored as the engine stores them
        ats = [T0 + timedelta(minutes=15 * i) for i in range(4)]
        for at, status in zip(ats, ["up", "down", "up", "down"], strict=True):
            run = _run("quick", at, {"a": status, "b": "up", "c": "down"})
            run.results[2].error = "secret: ${env:NOPE} is not set"  # a config problem
            store.write_run(run)
            store.put_results(run)
        other = _run("full", ats[1], {"a": "down"})
        store.write_run(other)
        store.put_results(other)

        # When the rollups of [run 1, run 3) are read
        got = store.outcomes("quick", ats[1], ats[3])

        # Then there is one per run, oldest first, each saying who was up, down or excluded
        assert [o.started_at for o in got] == [iso(at) for at in ats[1:3]]
        assert [o.by_outcome for o in got] == [
            {"d": ["a"], "u": ["b"], "x": ["c"]},
            {"u": ["a", "b"], "x": ["c"]},
        ]
        assert all(o.run_id.startswith("quick-") for o in got)

    def test_result_key_layout(self, store):
        run = _run("quick", T0, {"a": "up"})
        key = store.write_run(run)
        assert key == "results/tier=quick/dt=2026-11-26/health-check-2026-11-26T20-45-00Z-ab12.json"

    def test_documents_round_trip(self, store):
        assert store.get_document("status/index.html") is None
        store.put_document("status/index.html", b"<html>ok</html>", "text/html")
        assert store.get_document("status/index.html") == b"<html>ok</html>"

    def test_batch_save_keeps_the_winners(self, store):
        stale = store.save(AlertState(check_id="b"))
        store.save(stale)  # b is now at version 2
        out = store.save_many([AlertState(check_id="a"), stale, AlertState(check_id="c")])
        assert isinstance(out["b"], ConflictError)
        assert out["a"].version == 1 and out["c"].version == 1
        loaded = store.load(["a", "b", "c"])
        assert [loaded[k].version for k in "abc"] == [1, 2, 1]
