"""E-mail for the local backend: `run --alert` mails through a real SMTP exchange
(STARTTLS, then AUTH) with a server on 127.0.0.1, once per alert, never the password."""

from __future__ import annotations

import json

from tests.fakes.server import FakeServer, Response
from tests.fakes.smtp import FakeSmtp
from tests.helpers import healthwatch

PASSWORD = "hw-smtp-pass-9c41d7"


def run(config, data, env):
    return healthwatch(config, data, "run", "--alert", env=env)


def test_an_alert_is_mailed_once_over_starttls_and_the_password_never_shows(tmp_path):
    health = {"code": 503}
    with FakeServer() as target, FakeSmtp(accounts={"monitor": PASSWORD}) as smtp:
        target.route("GET", "/health", lambda req: Response(health["code"], {"status": "x"}))
        doc = {
            "defaults": {"failure_threshold": 1, "retry_interval": 0},
            "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
            "checks": [
                {"id": "api", "name": "Public API", "tier": "quick", "url": f"{target.url}/health"}
            ],
            "notifications": {
                "email": {
                    "smtp_host": "127.0.0.1",
                    "port": smtp.port,
                    "from": "healthwatch@example.com",
                    "to": ["oncall@example.com", "ops@example.com"],
                    "username": "monitor",
                    "password": "${env:SMTP_PASSWORD}",
                    "ca_bundle": smtp.ca_file,
                }
            },
        }
        config = tmp_path / "checks.yaml"
        config.write_text(json.dumps(doc))
        data = tmp_path / "data"
        env = {"SMTP_PASSWORD": PASSWORD}

        # When the check goes down, is still down, then recovers
        down = run(config, data, env)
        still = run(config, data, env)
        health["code"] = 200
        back = run(config, data, env)

    # Then two messages arrived: triggered and resolved, not one per run
    assert (down.returncode, still.returncode, back.returncode) == (1, 1, 0), down.stderr
    subjects = [r.message["Subject"] for r in smtp.received]
    assert subjects == ["[DOWN] Public API (quick)", "[RESOLVED] Public API (quick)"]
    first = smtp.received[0]
    assert first.recipients == ["oncall@example.com", "ops@example.com"]
    assert first.message["From"] == "healthwatch@example.com"
    text = first.message.get_content()
    assert "What failed" in text and "[STATUS] (503) < 400" in text
    # over TLS, logged in after STARTTLS with the resolved password
    assert first.tls and first.login == ("monitor", PASSWORD)
    assert all(tls for _, _, tls in smtp.logins)
    # and the password is in nothing the command wrote
    outputs = [p.stdout + p.stderr for p in (down, still, back)]
    outputs += [
        p.read_text() for p in data.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl")
    ]
    assert not [o for o in outputs if PASSWORD in o]


def test_a_refused_login_is_an_undelivered_alert_named_without_the_password(tmp_path):
    with FakeServer() as target, FakeSmtp(accounts={"monitor": "the-right-one"}) as smtp:
        target.route("GET", "/health", Response(500, "down"))
        doc = {
            "defaults": {"failure_threshold": 1, "retry_interval": 0},
            "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
            "checks": [{"id": "api", "tier": "quick", "url": f"{target.url}/health"}],
            "notifications": {
                "email": {
                    "smtp_host": "127.0.0.1",
                    "port": smtp.port,
                    "from": "hw@example.com",
                    "to": ["oncall@example.com"],
                    "username": "monitor",
                    "password": "${env:SMTP_PASSWORD}",
                    "ca_bundle": smtp.ca_file,
                }
            },
        }
        config = tmp_path / "checks.yaml"
        config.write_text(json.dumps(doc))
        proc = run(config, tmp_path / "data", {"SMTP_PASSWORD": PASSWORD})

    assert proc.returncode == 1
    assert "email: login refused (535)" in proc.stderr
    assert PASSWORD not in proc.stderr + proc.stdout
    assert smtp.received == []
    # the event stays in the outbox for the next run (alerts.jsonl already has it)
    state = json.loads((tmp_path / "data" / "state.json").read_text())
    assert [p["delivered"] for p in state["api"]["pending_events"]] == [["alerts.jsonl"]]
