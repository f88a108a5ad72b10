"""What an alert says, through the real command: reason, runbook and links in every channel,
routing per chat provider, and a terminal that is cut short or closed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from healthwatch.models import AlertEvent
from healthwatch.notify import email
from healthwatch.notify.sns import publish_request

from tests.fakes.discord import FakeDiscord
from tests.fakes.server import FakeServer, Response
from tests.fakes.slack import FakeSlack
from tests.helpers import healthwatch

RUNBOOK = "https://wiki.example.com/runbooks/agent-service"
DASHBOARD = "https://grafana.example.com/d/agent"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return healthwatch(tmp_path / "checks.yaml", tmp_path / "data", "run", *args)


@pytest.fixture
def world(tmp_path):
    with FakeServer() as target, FakeSlack() as slack, FakeDiscord() as discord:
        target.route("GET", "/health", Response(500, {"status": "error"}))
        (tmp_path / "checks.yaml").write_text(f"""
version: 1
defaults: {{failure_threshold: 1, retry_interval: 0, reminder_interval: 0}}
tiers: {{quick: {{schedule: rate(15 minutes)}}}}
checks:
  - id: agent-service
    name: "Agent SDK Service · prod"
    tier: quick
    url: "{target.url}/health"
    conditions: ["[STATUS] == 200"]
    runbook: {RUNBOOK}
    links: {{dashboard: {DASHBOARD}}}
  - id: docs
    name: Docs site
    tier: quick
    severity: warning
    url: "{target.url}/health"
notifications:
  slack: {{webhook_url: "{slack.webhook_url}", min_severity: critical}}
  discord: {{webhook_url: "{discord.webhook_url}", events: [triggered, resolved]}}
""")
        yield tmp_path, slack, discord


def test_reason_runbook_and_links_reach_every_channel(world):
    tmp_path, slack, discord = world
    proc = run(tmp_path, "--alert", "--json")
    doc = json.loads(proc.stdout)
    (event,) = [AlertEvent.from_dict(a) for a in doc["alerts"] if a["check_id"] == "agent-service"]
    assert event.reason == "condition_failed: [STATUS] (500) == 200"
    assert event.runbook == RUNBOOK and event.links == {"dashboard": DASHBOARD}
    # alerts.jsonl, the SNS message (JSON for machines, text for email), Slack and Discord
    stored = (tmp_path / "data" / "alerts.jsonl").read_text()
    message = json.loads(publish_request(event, "arn:aws:sns:us-east-1:123456789012:t")["Message"])
    body = email.body(event)
    assert body.index("What failed:") < body.index("What to do:")
    slack_post = json.dumps([m for m in slack.messages if "Agent SDK" in json.dumps(m)])
    discord_post = json.dumps([m for m in discord.messages if "Agent SDK" in json.dumps(m)])
    for channel in (stored, message["default"], message["email"], slack_post, discord_post):
        assert RUNBOOK in channel and DASHBOARD in channel
        assert "[STATUS] (500) == 200" in channel
    subject = publish_request(event, "arn:aws:sns:us-east-1:123456789012:t")["Subject"]
    assert subject == "[DOWN] Agent SDK Service - prod (quick)"


def test_each_provider_gets_only_what_its_routing_accepts(world):
    tmp_path, slack, discord = world
    run(tmp_path, "--alert")
    # Slack takes critical only: the warning check's alert is not posted there.
    assert any("Agent SDK" in json.dumps(m) for m in slack.messages)
    assert not any("Docs site" in json.dumps(m) for m in slack.messages)
    assert any("Docs site" in json.dumps(m) for m in discord.messages)
    # Nothing is left pending because of routing: a rejected event counts as handled.
    state = json.loads((tmp_path / "data" / "state.json").read_text())
    assert all(not s.get("pending_events") for s in state.values())


def test_a_closed_pipe_ends_quietly_and_long_details_are_cut_with_an_ellipsis(world):
    tmp_path, _, _ = world
    config = (
        (tmp_path / "checks.yaml")
        .read_text()
        .replace('["[STATUS] == 200"]', '["[STATUS] == 200", "[BODY].status == ' + "x" * 150 + '"]')
    )
    (tmp_path / "checks.yaml").write_text(config)
    table = run(tmp_path).stdout
    line = next(li for li in table.splitlines() if "agent-service" in li and "DOWN" in li)
    assert line.rstrip().endswith("…") and "x" * 150 not in line
    env = {k: v for k, v in os.environ.items() if k != "HEALTHWATCH_BACKEND"}
    command = (
        f"{sys.executable} -m healthwatch run --config {tmp_path / 'checks.yaml'} "
        f"--data-dir {tmp_path / 'data'} | head -c 20"
    )
    proc = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.stderr == "" and len(proc.stdout.encode()) == 20


def test_wide_shows_the_whole_reason_and_maintenance_is_marked(world):
    tmp_path, _, _ = world
    config = (tmp_path / "checks.yaml").read_text().replace(
        '["[STATUS] == 200"]', '["[STATUS] == 200", "[BODY].status == ' + "x" * 150 + '"]'
    ) + (
        "maintenance:\n  - {name: deploy, checks: [docs], start: 2026-01-01T00:00:00Z, "
        "end: 2099-01-01T00:00:00Z}\n"
    )
    (tmp_path / "checks.yaml").write_text(config)
    table = run(tmp_path, "--wide").stdout
    line = next(li for li in table.splitlines() if "agent-service" in li and "DOWN" in li)
    assert "x" * 150 in line and "…" not in line
    docs = next(li for li in table.splitlines() if li.strip().startswith("DOWN") and " docs " in li)
    assert "[maintenance: deploy]" in docs


def test_on_a_terminal_results_appear_as_they_complete(tmp_path):
    import pty

    with FakeServer() as target:
        target.route("GET", "/fast", Response(200, {"status": "ok"}))
        target.route("GET", "/slow", Response(200, {"status": "ok"}, delay=1.0))
        (tmp_path / "checks.yaml").write_text(f"""
version: 1
tiers: {{quick: {{schedule: rate(15 minutes)}}}}
checks:
  - {{id: slow-one, tier: quick, url: "{target.url}/slow"}}
  - {{id: fast-one, tier: quick, url: "{target.url}/fast"}}
""")
        main, child = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("HEALTHWATCH_BACKEND", "NO_COLOR")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "healthwatch",
                "run",
                "--no-color",
                "--config",
                str(tmp_path / "checks.yaml"),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            stdout=child,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        os.close(child)
        out = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        proc.wait(30)
        os.close(main)
    text = out.decode()
    # The fast check's line comes first, both before the table, which lists them in config order
    live_fast, live_slow, table = (
        text.index("fast-one"),
        text.index("slow-one"),
        text.index("STATUS"),
    )
    assert live_fast < live_slow < table
    assert text.index("slow-one", table) < text.index("fast-one", table)
