"""A Fly app with a critical machine and a status page in a major outage, through the real
command with `--alert`: every down result and every event says what broke, by name, in
alerts.jsonl, Slack and Discord (fakes that check Block Kit and embed limits)."""

from __future__ import annotations

import json
import os

from healthwatch.models import AlertEvent
from healthwatch.notify import email

from tests.fakes.discord import FakeDiscord
from tests.fakes.flyio import FakeFly
from tests.fakes.slack import FakeSlack
from tests.fakes.statuspage import FakeStatuspage
from tests.helpers import healthwatch

TOKEN = "fo1_test-token-for-the-fake-fly-api"
APP = "hotdash-agent-service"
RUNBOOK = "https://wiki.example.com/runbooks/fly"


def test_fly_and_statuspage_alerts_name_the_machine_and_the_component(
    tmp_path, capsys, monkeypatch
):
    with (
        FakeFly(token=TOKEN) as fly,
        FakeStatuspage("OpenAI", ["API", "ChatGPT"]) as page,
        FakeSlack() as slack,
        FakeDiscord() as discord,
    ):
        fly.add_app(APP)
        machine = fly.add_machine(
            APP, region="iad", checks={"servicecheck-00-http-8787": "critical"}
        )
        page.set_component("API", "major_outage")
        page.add_incident("Elevated error rates on the API", impact="major", components=["API"])
        (tmp_path / "checks.yaml").write_text(f"""
version: 1
defaults: {{failure_threshold: 1, retry_interval: 0, reminder_interval: 0}}
tiers: {{comprehensive: {{schedule: rate(6 hours)}}}}
checks:
  - id: fly-agent-service
    name: "Fly.io machines · Agent SDK Service"
    tier: comprehensive
    type: flyio
    app: {APP}
    token: "${{env:FLY_TOKEN}}"
    base_url: {fly.url}
    runbook: {RUNBOOK}
  - id: openai-status
    name: OpenAI status
    tier: comprehensive
    type: statuspage
    url: https://status.openai.com
    base_url: {page.server.url}
notifications:
  slack: {{webhook_url: "{slack.webhook_url}"}}
  discord: {{webhook_url: "{discord.webhook_url}"}}
""")
        monkeypatch.setenv("FLY_TOKEN", TOKEN)
        table = healthwatch(tmp_path / "checks.yaml", tmp_path / "data", "run", "--alert")
        doc = json.loads(
            healthwatch(tmp_path / "checks.yaml", tmp_path / "data2", "run", "--json").stdout
        )
    # Every down result says what broke, by name
    results = {r["check_id"]: r for r in doc["results"]}
    assert machine["id"] in results["fly-agent-service"]["error"]
    assert "servicecheck-00-http-8787" in results["fly-agent-service"]["error"]
    assert "API major_outage" in results["openai-status"]["error"]
    assert "Elevated error rates on the API" in results["openai-status"]["error"]
    # Every event too, in every channel
    events = [
        AlertEvent.from_dict(json.loads(li))
        for li in (tmp_path / "data" / "alerts.jsonl").read_text().splitlines()
    ]
    fly_event = next(e for e in events if e.check_id == "fly-agent-service")
    status_event = next(e for e in events if e.check_id == "openai-status")
    assert machine["id"] in fly_event.reason and "API major_outage" in status_event.reason
    assert f"fly machine restart {machine['id']} -a {APP}" in fly_event.action
    slack_fly = next(m for m in slack.messages if "Agent SDK" in json.dumps(m))
    discord_fly = next(m for m in discord.messages if "Agent SDK" in json.dumps(m))
    for payload in (json.dumps(slack_fly), json.dumps(discord_fly), email.body(fly_event)):
        assert machine["id"] in payload and RUNBOOK in payload
        assert f"fly logs -a {APP} --machine {machine['id']}" in payload
    assert email.subject(fly_event) == "[DOWN] Fly.io machines - Agent SDK Service (comprehensive)"
    assert "Traceback" not in table.stderr
    with capsys.disabled():  # the samples in the closing note
        if os.environ.get("HEALTHWATCH_SHOW_SAMPLES"):
            print("\n--- email subject\n" + email.subject(fly_event))
            print("--- email body\n" + email.body(fly_event))
            print("--- slack\n" + json.dumps(slack_fly, indent=1, ensure_ascii=False))
            print("--- discord\n" + json.dumps(discord_fly, indent=1, ensure_ascii=False))
            print("--- table\n" + table.stdout)
