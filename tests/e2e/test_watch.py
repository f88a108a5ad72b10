"""`healthwatch watch`: runs counted, stopped by a signal, the run in flight never lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.fakes.server import FakeServer, Response


def stored_runs(data: Path) -> int:
    return len(list((data / "results").glob("tier=*/dt=*/*.json")))


def wait_for(predicate, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def start_watch(tmp_path: Path, url: str) -> tuple[subprocess.Popen, Path]:
    doc = {
        "defaults": {"retry_interval": 0, "timeout": "10s"},
        "tiers": {"quick": {"schedule": "rate(5 minutes)"}},
        "checks": [{"id": "api", "tier": "quick", "url": url}],
    }
    config = tmp_path / "checks.yaml"
    config.write_text(json.dumps(doc))
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "HEALTHWATCH_BACKEND"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "healthwatch",
            "watch",
            "--every",
            "1s",
            "--config",
            str(config),
            "--data-dir",
            str(data),
            "--no-color",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, data


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_watch_runs_on_a_loop_and_stops_cleanly_on_a_signal(tmp_path, signum):
    with FakeServer() as server:
        server.route("GET", "/health", Response(200, {"status": "ok"}))
        proc, data = start_watch(tmp_path, f"{server.url}/health")
        try:
            # When three runs have been stored, the process is told to stop
            assert wait_for(lambda: stored_runs(data) >= 3), proc.stderr
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # Then it ends with 0, says how many runs it made, and each one was stored
    assert proc.returncode == 0, err
    runs = stored_runs(data)
    assert f"stopped after {runs} runs" in out
    assert out.count("quick: 1 up, 0 degraded, 0 down") == runs
    assert signal.Signals(signum).name in err


def test_a_signal_during_a_run_finishes_and_stores_that_run(tmp_path):
    # Given a target that holds its second request for a second and a half
    arrived = []
    holding = threading.Event()

    def health(req):
        arrived.append(time.monotonic())
        if len(arrived) == 2:
            holding.set()
            time.sleep(1.5)
        return Response(200, {"status": "ok"})

    with FakeServer() as server:
        server.route("GET", "/health", health)
        proc, data = start_watch(tmp_path, f"{server.url}/health")
        try:
            # When the signal comes while that request is held (the run in flight)
            assert holding.wait(30), proc.stderr
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # Then the run was finished and stored before the process ended, and no other began
    assert proc.returncode == 0, err
    assert len(arrived) == 2
    assert stored_runs(data) == 2
    assert "stopped after 2 runs" in out


@pytest.mark.parametrize(
    ("schedule", "args", "says"),
    [
        ("cron(0 12 * * ? *)", [], "cron(), which watch cannot follow: give --every"),
        ("rate(5 minutes)", ["--every", "soon"], "--every:"),
        ("rate(5 minutes)", ["--every", "100ms"], "--every: at least 1s"),
        ("rate(5 minutes)", ["--tier", "nope"], "unknown tier 'nope'"),
    ],
)
def test_watch_refuses_what_it_cannot_follow(tmp_path, schedule, args, says):
    from tests.helpers import healthwatch

    doc = {
        "tiers": {"quick": {"schedule": schedule}},
        "checks": [{"id": "api", "tier": "quick", "url": "http://127.0.0.1:9/"}],
    }
    config = tmp_path / "checks.yaml"
    config.write_text(json.dumps(doc))
    proc = healthwatch(config, tmp_path / "data", "watch", *args, timeout=30)
    assert proc.returncode == 2
    assert says in proc.stderr
