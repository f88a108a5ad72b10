"""Nothing lost, nothing twice on the local backend: `healthwatch run --alert` as a cron box
runs it, with a state file that cannot be written, chat answering 5xx and 403, and the
process killed with SIGKILL in the middle of a delivery."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.fault_proxy import wait_until
from tests.fakes.server import FakeServer, Response
from tests.fakes.slack import FakeSlack
from tests.helpers import healthwatch

CHECKS = 3


@pytest.fixture
def world(tmp_path):
    with FakeServer() as target, FakeSlack() as slack, FakeDiscord() as discord:
        target.route("GET", "/health", Response(503, {"status": "error"}))
        checks = "\n".join(
            f'  - {{id: svc-{i}, tier: quick, url: "{target.url}/health"}}' for i in range(CHECKS)
        )
        (tmp_path / "checks.yaml").write_text(
            "version: 1\n"
            "defaults: {failure_threshold: 1, retry_interval: 0, reminder_interval: 0}\n"
            "tiers: {quick: {schedule: rate(15 minutes), deadline: 20s}}\n"
            f"checks:\n{checks}\n"
            "notifications:\n"
            f'  slack: {{webhook_url: "{slack.webhook_url}"}}\n'
            f'  discord: {{webhook_url: "{discord.webhook_url}"}}\n'
        )
        yield tmp_path, slack, discord


def cli(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "HEALTHWATCH_BACKEND"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "healthwatch",
            "run",
            "--alert",
            *args,
            "--config",
            str(tmp_path / "checks.yaml"),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def run(tmp_path: Path) -> tuple[int, str]:
    proc = healthwatch(tmp_path / "checks.yaml", tmp_path / "data", "run", "--alert")
    return proc.returncode, proc.stderr


def ids_in_file(tmp_path: Path) -> list[str]:
    path = tmp_path / "data" / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


def ids_posted(fake) -> list[str]:
    # Each post names its check; one triggered event per check is expected.
    text = [json.dumps(m) for m in fake.messages]
    return [f"svc-{i}" for i in range(CHECKS) for t in text if f"svc-{i}" in t]


def results_stored(tmp_path: Path) -> int:
    files = (tmp_path / "data" / "results").rglob("*.json")
    return sum(len(f.read_text().splitlines()) for f in files)


def tally(tmp_path, slack, discord) -> dict[str, tuple[int, int]]:
    """destination -> (distinct events, duplicates)."""
    out = {}
    for name, got in (
        ("alerts.jsonl", ids_in_file(tmp_path)),
        ("slack", ids_posted(slack)),
        ("discord", ids_posted(discord)),
    ):
        counts = Counter(got)
        out[name] = (len(counts), sum(n - 1 for n in counts.values()))
    return out


def report(name, tmp_path, slack, discord, runs):
    t = tally(tmp_path, slack, discord)
    line = ", ".join(f"{k} {v[0]}/{CHECKS} dup {v[1]}" for k, v in t.items())
    print(f"\n[local delivery] {name}: results {results_stored(tmp_path)}/{CHECKS * runs}; {line}")
    return t


EVERYWHERE_ONCE = {d: (CHECKS, 0) for d in ("alerts.jsonl", "slack", "discord")}


def test_an_unwritable_state_file_costs_the_alerts_of_that_run_not_its_results(world):
    tmp_path, slack, discord = world
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "state.json").mkdir()  # a directory: neither read nor replaced
    code, err = run(tmp_path)
    assert code == 1 and "alert state" in err and "Traceback" not in err
    assert results_stored(tmp_path) == CHECKS and ids_in_file(tmp_path) == []
    shutil.rmtree(tmp_path / "data" / "state.json")
    for _ in range(2):
        run(tmp_path)
    assert report("state file unwritable", tmp_path, slack, discord, 3) == EVERYWHERE_ONCE
    assert results_stored(tmp_path) == CHECKS * 3


@pytest.mark.parametrize("status", [500, 403])
def test_a_failing_chat_provider_is_retried_alone(world, status):
    tmp_path, slack, discord = world
    slack.fail_next(100, status=status)  # 5xx is retried within the run; 403 is final
    code, err = run(tmp_path)
    assert code == 1 and "slack" in err
    assert slack.messages == [] and len(discord.messages) == CHECKS
    slack.reset()
    for _ in range(2):
        assert run(tmp_path)[0] == 1  # still down, but nothing left to deliver
    name = f"chat {status}"
    assert report(name, tmp_path, slack, discord, 3) == EVERYWHERE_ONCE


def test_sigkill_mid_delivery_loses_nothing_and_repeats_nothing(world):
    tmp_path, slack, discord = world
    # Slack holds the first post without taking it; the process is killed while it waits.
    slack._scripted.append(Response(503, "service_unavailable", delay=60))
    proc = cli(tmp_path)
    try:
        assert wait_until(lambda: len(slack.server.requests) >= 1, 60)
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    slack.reset()
    for _ in range(2):
        run(tmp_path)  # the dead run's leases are taken at once: its process is gone
    assert report("sigkill mid-delivery", tmp_path, slack, discord, 3) == EVERYWHERE_ONCE
