"""`healthwatch watch`: runs counted, stopped by a signal, the run in flight never lost."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.fault_proxy import wait_until
from tests.fakes.server import FakeServer, Response
from tests.helpers import command, command_env, healthwatch


def stored_runs(data: Path) -> int:
    return len(list((data / "results").glob("tier=*/dt=*/*.json")))


@contextlib.contextmanager
def watching(tmp_path: Path, url: str) -> Iterator[tuple[subprocess.Popen, Path]]:
    """`healthwatch watch --every 1s` on one check of `url`; killed if the test leaves it."""
    doc = {
        "defaults": {"retry_interval": 0, "timeout": "10s"},
        "tiers": {"quick": {"schedule": "rate(5 minutes)"}},
        "checks": [{"id": "api", "tier": "quick", "url": url}],
    }
    config = tmp_path / "checks.yaml"
    config.write_text(json.dumps(doc))
    data = tmp_path / "data"
    argv = command(config, data, "watch", "--every", "1s", "--no-color")
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=command_env()
    )
    try:
        yield proc, data
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen, signum: int) -> tuple[str, str]:
    proc.send_signal(signum)
    return proc.communicate(timeout=30)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_watch_runs_on_a_loop_and_stops_cleanly_on_a_signal(tmp_path, signum):
    with FakeServer() as server:
        server.route("GET", "/health", Response(200, {"status": "ok"}))
        with watching(tmp_path, f"{server.url}/health") as (proc, data):
            # When three runs have been stored, the process is told to stop
            assert wait_until(lambda: stored_runs(data) >= 3), proc.stderr
            out, err = stop(proc, signum)

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
        with watching(tmp_path, f"{server.url}/health") as (proc, data):
            # When the signal comes while that request is held (the run in flight)
            assert holding.wait(30), proc.stderr
            out, err = stop(proc, signal.SIGTERM)

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
    doc = {
        "tiers": {"quick": {"schedule": schedule}},
        "checks": [{"id": "api", "tier": "quick", "url": "http://127.0.0.1:9/"}],
    }
    config = tmp_path / "checks.yaml"
    config.write_text(json.dumps(doc))
    proc = healthwatch(config, tmp_path / "data", "watch", *args, timeout=30)
    assert proc.returncode == 2
    assert says in proc.stderr
