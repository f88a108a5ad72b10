"""The whole command against loopback targets: an incident triggered once, resolved once,
delivered to Slack and Discord fakes in their real shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.server import FakeServer, Response
from tests.fakes.slack import FakeSlack

RESULT_FIELDS = {
    "run_id",
    "tier",
    "check_id",
    "check_name",
    "type",
    "target",
    "started_at",
    "status",
    "latency_ms",
    "http_status",
    "error",
    "attempts",
    "conditions",
    "details",
}


@pytest.fixture
def target():
    state = {"healthy": False}

    def health(req):
        if state["healthy"]:
            return Response(200, {"status": "ok", "service": "agent-service"})
        return Response(503, {"status": "error", "service": "agent-service"})

    with FakeServer() as server:
        server.route("GET", "/health", health)
        yield server, state


def _cli(tmp_path, *args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    env.pop("HEALTHWATCH_BACKEND", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "healthwatch",
            *args,
            "--config",
            str(tmp_path / "checks.yaml"),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_fail_three_times_then_recover(tmp_path, target):
    server, state = target
    with FakeSlack() as slack, FakeDiscord() as discord:
        (tmp_path / "checks.yaml").write_text(
            textwrap.dedent(f"""
            defaults: {{failure_threshold: 3, retry_interval: 50ms, reminder_interval: 0, timeout: 2s}}
            tiers: {{quick: {{schedule: rate(15 minutes), deadline: 20s}}}}
            checks:
              - id: agent-service
                name: Agent SDK Service
                tier: quick
                url: {server.url}/health
                conditions: ["[STATUS] == 200", "[BODY].status == ok"]
            notifications:
              slack: {{webhook_url: "${{env:TEST_SLACK_URL}}"}}
              discord: {{webhook_url: "${{env:TEST_DISCORD_URL}}"}}
        """)
        )
        env = {"TEST_SLACK_URL": slack.webhook_url, "TEST_DISCORD_URL": discord.webhook_url}

        first = _cli(tmp_path, "run", "--tier", "quick", "--json", "--alert", env_extra=env)
        assert first.returncode == 1, first.stderr
        doc = json.loads(first.stdout)  # stdout is only the JSON document
        (res,) = doc["results"]
        assert set(res) == RESULT_FIELDS
        assert res["status"] == "down" and res["attempts"] == 3 and res["http_status"] == 503
        assert res["conditions"][0]["detail"] == "[STATUS] (503) == 200"
        assert [a["event"] for a in doc["alerts"]] == ["triggered"]
        assert len(server.requests_to("/health")) == 3

        second = _cli(tmp_path, "run", "--tier", "quick", "--json", "--alert", env_extra=env)
        assert second.returncode == 1 and json.loads(second.stdout)["alerts"] == []

        state["healthy"] = True
        third = _cli(tmp_path, "run", "--tier", "quick", "--json", "--alert", env_extra=env)
        assert third.returncode == 0, third.stderr
        assert [a["event"] for a in json.loads(third.stdout)["alerts"]] == ["resolved"]

        recorded = [
            json.loads(line) for line in (tmp_path / "data/alerts.jsonl").read_text().splitlines()
        ]
        assert [(a["event"], a["check_id"]) for a in recorded] == [
            ("triggered", "agent-service"),
            ("resolved", "agent-service"),
        ]

        # Slack: blocks plus a text fallback; Discord: one embed, red then green.
        assert len(slack.messages) == 2 and len(discord.messages) == 2
        for message in slack.messages:
            assert message["text"] and message["blocks"][0]["type"] in ("header", "section")
        assert "Agent SDK Service" in slack.messages[0]["text"]
        colours = [m["embeds"][0]["color"] for m in discord.messages]
        assert colours[0] != colours[1]
        assert "Agent SDK Service" in json.dumps(discord.messages[0])

    # Results landed in the S3 layout, one JSON line per check per run.
    files = sorted((tmp_path / "data/results/tier=quick").glob("dt=*/health-check-*.json"))
    assert len(files) == 3
    assert all(len(f.read_text().splitlines()) == 1 for f in files)


def test_without_alert_flag_nothing_is_posted(tmp_path, target):
    server, _ = target
    with FakeSlack() as slack:
        (tmp_path / "checks.yaml").write_text(
            textwrap.dedent(f"""
            defaults: {{failure_threshold: 1}}
            tiers: {{quick: {{schedule: rate(15 minutes)}}}}
            checks: [{{id: svc, tier: quick, url: "{server.url}/health"}}]
            notifications: {{slack: {{webhook_url: "{slack.webhook_url}"}}}}
        """)
        )
        proc = _cli(tmp_path, "run", "--no-color")
        assert proc.returncode == 1
        assert "DOWN" in proc.stdout and "svc" in proc.stdout and "\033[" not in proc.stdout
        assert "quick: 0 up, 0 degraded, 1 down" in proc.stdout
        assert slack.messages == []
        assert len((tmp_path / "data/alerts.jsonl").read_text().splitlines()) == 1


def test_unreachable_target_is_down_not_a_traceback(tmp_path):
    (tmp_path / "checks.yaml").write_text(
        textwrap.dedent("""
        defaults: {retry_interval: 0}
        tiers: {quick: {schedule: rate(15 minutes)}}
        checks:
          - {id: refused, tier: quick, url: "http://127.0.0.1:9/health"}
          - {id: no-dns, tier: quick, url: "http://no-such-host.invalid/health"}
    """)
    )
    proc = _cli(tmp_path, "run", "--all", "--json")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    (doc,) = json.loads(proc.stdout)
    errors = {r["check_id"]: r["error"].split(":")[0] for r in doc["results"]}
    assert errors == {"refused": "connection_refused", "no-dns": "dns"}


def test_usage_errors_exit_2(tmp_path):
    (tmp_path / "checks.yaml").write_text(
        "tiers: {quick: {schedule: rate(15 minutes)}}\nchecks: []\n"
    )
    assert _cli(tmp_path, "run", "--tier", "nope").returncode == 2
    assert _cli(tmp_path, "history", "--check", "nope").returncode == 2
    assert _cli(tmp_path, "frobnicate").returncode == 2


def test_an_unreachable_aws_backend_is_one_line_not_a_traceback(tmp_path):
    (tmp_path / "checks.yaml").write_text(
        "tiers: {quick: {schedule: rate(15 minutes)}}\n"
        "checks: [{id: svc, tier: quick, url: 'http://127.0.0.1:9/'}]\n"
    )
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "RESULTS_BUCKET": "hw-results",
        "HISTORY_TABLE": "hw-history",
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:hw",
        "AWS_MAX_ATTEMPTS": "1",
    }
    proc = _cli(tmp_path, "history", "--check", "svc", "--backend", "aws", env_extra=env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("healthwatch: ") and "127.0.0.1:9" in proc.stderr
