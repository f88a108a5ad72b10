"""Two runs of one tier at the same moment against a failing target send one alert."""

from __future__ import annotations

import threading

from healthwatch.engine import Ports, run_tier
from healthwatch.runtime.clients import aio_session, http_session
from healthwatch.secrets import Secrets
from healthwatch.storage.local import LocalStore

from tests.fakes.server import FakeServer, Response
from tests.helpers import RecordingNotifier, config


def test_overlapping_runs_send_one_alert(tmp_path):
    with FakeServer() as server:
        server.route("GET", "/health", Response(500, {"status": "error"}, delay=0.05))
        cfg = config(f"""
            defaults: {{failure_threshold: 3, retry_interval: 10ms, reminder_interval: 0}}
            tiers: {{quick: {{schedule: rate(15 minutes)}}}}
            checks: [{{id: svc, tier: quick, url: "{server.url}/health"}}]
        """)
        notifier = RecordingNotifier()
        barrier = threading.Barrier(2)
        runs = []

        def one_run() -> None:
            backend = Ports(states=LocalStore(tmp_path), notifier=notifier)
            barrier.wait()
            runs.append(
                run_tier(
                    cfg,
                    "quick",
                    backend,
                    open_http=aio_session,
                    session=http_session(4),
                    secrets=Secrets.local({}),
                )
            )

        threads = [threading.Thread(target=one_run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(runs) == 2 and all(r.results[0].status == "down" for r in runs)
    # Both runs probed three times and both saw the threshold; only one claimed the alert.
    assert [r.results[0].attempts for r in runs] == [3, 3]
    assert [e.event for e in notifier.events] == ["triggered"]
    assert sorted(len(r.alerts) for r in runs) == [0, 1]
    state = LocalStore(tmp_path).load(["svc"])["svc"]
    # Two claims, then the delivered event leaves the outbox: three writes, nothing pending.
    assert state.incident_open and state.version == 3 and state.pending_events == []
