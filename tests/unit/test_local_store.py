"""The local backend's files: S3's layout, JSON Lines, a state file never half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from healthwatch.models import AlertState, TierRun
from healthwatch.storage import local as local_mod
from healthwatch.storage.local import LocalStore

from tests.helpers import result


def test_run_written_as_json_lines_and_latest(tmp_path):
    store = LocalStore(tmp_path)
    at = datetime(2026, 11, 26, 20, 45, tzinfo=UTC)
    results = [result("a", "up", at=at), result("b", "down", at=at, error="timeout: slow")]
    run = TierRun("quick-2026-11-26T20-45-00Z-3f9a", "quick", results[0].started_at, 5.0, results)
    key = store.write_run(run)
    store.write_latest(run)
    lines = (tmp_path / key).read_text().splitlines()
    assert [json.loads(line)["check_id"] for line in lines] == ["a", "b"]
    latest = json.loads((tmp_path / "latest/quick.json").read_text())
    assert latest["down"] == 1 and len(latest["results"]) == 2


def test_state_file_survives_a_failed_write(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    store.save(AlertState(check_id="a", consecutive_failures=1))
    before = (tmp_path / "state.json").read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(local_mod.os, "replace", boom)
    with pytest.raises(OSError):
        store.save(AlertState(check_id="a", consecutive_failures=5, version=1))
    assert (tmp_path / "state.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


WRITER = """
import sys
from healthwatch.models import AlertState
from healthwatch.storage.local import LocalStore
store = LocalStore(sys.argv[1])
state = store.load(["a"])["a"]
big = [{"at": "x" * 200, "status": "down"}] * 50
state.consecutive_failures += 1
state = store.save(state)  # one whole file before the first kill, however slow the machine
print("ready", flush=True)
while True:
    state.recent = big
    state.consecutive_failures += 1
    state = store.save(state)
"""


def test_state_file_is_whole_after_a_kill(tmp_path):
    """Kill a writer mid-stream many times: the state file always parses and only grows."""
    last = 0
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.15)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        data = json.loads((tmp_path / "state.json").read_text())
        count = data["a"]["consecutive_failures"]
        assert count >= last
        last = count
    assert last > 0


def test_many_states_saved_in_one_write_read_back_as_saved(tmp_path):
    # Given a state file holding two states, and a batch updating one and adding two
    store = LocalStore(tmp_path)
    store.save_many([AlertState("b", consecutive_failures=1), AlertState("z")])
    old_b = store.load(["b"])["b"]
    old_b.consecutive_failures = 2
    old_b.recent = [{"at": "2026-12-02T12:00:00.000Z", "status": "down", "n": 10**25}]
    batch = [old_b, AlertState("a", probe_memory={"k": [1, 2]}), AlertState("c")]

    # When the batch is saved
    out = store.save_many(batch)

    # Then each saved state is the one given at its next version, and a new object
    assert {k: v.version for k, v in out.items()} == {"b": 2, "a": 1, "c": 1}
    assert out["b"] is not old_b and out["b"].recent == old_b.recent
    # and the file is one JSON object, ids in order, every state whole (z kept as it was)
    text = (tmp_path / "state.json").read_text()
    data = json.loads(text)
    assert list(data) == ["a", "b", "c", "z"]
    assert data["b"]["recent"][0]["n"] == 10**25
    assert store.load(["a", "b", "c", "z"]) == {
        "a": out["a"],
        "b": out["b"],
        "c": out["c"],
        "z": AlertState("z", version=1),
    }
    # and a stale version is refused without touching the file
    stale = store.save_many([AlertState("c", consecutive_failures=9)])
    assert isinstance(stale["c"], Exception)
    assert (tmp_path / "state.json").read_text() == text


def test_a_write_whose_chunks_fail_midway_leaves_the_old_file(tmp_path):
    path = tmp_path / "doc.json"
    local_mod.atomic_write(path, b"old")

    def chunks():
        yield b"{"
        raise ValueError("cannot encode")

    with pytest.raises(ValueError):
        local_mod.atomic_write(path, chunks())
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]
