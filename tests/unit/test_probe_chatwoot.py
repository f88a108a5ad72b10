"""The `chatwoot` probe against a fake installation: health, profile, refusals and throttling."""

from __future__ import annotations

import json
import secrets
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import yaml
from healthwatch.config import Check
from healthwatch.errors import ConfigError, ProbeError
from healthwatch.probes import Observation, ProbeContext, chatwoot
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets

from tests.fakes import chatwoot as fake_chatwoot
from tests.fakes.chatwoot import ChatwootFake
from tests.fakes.server import Response
from tests.helpers import call_probe

TOKEN = secrets.token_urlsafe(18)
REFERENCE = "${secret:hotdash/chatwoot-api-token}"
ENV = {"HW_SECRET_HOTDASH_CHATWOOT_API_TOKEN": TOKEN}


@pytest.fixture(scope="module")
def server() -> Any:
    with ChatwootFake(TOKEN) as started:
        yield started


@pytest.fixture
def fake(server: ChatwootFake) -> ChatwootFake:
    server.reset()
    return server


def make_check(**options: Any) -> Check:
    check = {"id": "chatwoot", "tier": "integrations", "type": "chatwoot", "token": REFERENCE}
    check.update(options)
    text = yaml.safe_dump(
        {"tiers": {"integrations": {"schedule": "rate(1 hour)"}}, "checks": [check]}
    )
    return parse_config(text).checks[0]


def context(environ: dict[str, str] = ENV) -> ProbeContext:
    return ProbeContext(
        session=requests.Session(),
        secrets=Secrets.local(environ),
        timeout=5,
        now=lambda: datetime.now(UTC),
    )


def status_of(obs: Observation) -> str:
    if obs.error is not None and obs.verdict is None:
        return "down"
    return obs.verdict or "up"


def test_up_checks_health_then_the_profile(fake: ChatwootFake) -> None:
    obs = call_probe(chatwoot, make_check(base_url=fake.url, account_id=1), context())

    assert status_of(obs) == "up", obs.error
    health, profile = fake.requests
    assert health.path == "/health" and health.header("api_access_token") is None
    assert profile.path == "/api/v1/profile" and profile.header("api_access_token") == TOKEN
    assert obs.details["health"]["status"] == "woot"
    assert obs.details["user_id"] == 7
    assert obs.details["accounts"] == [
        {"id": 1, "name": "HotDash", "role": "administrator", "status": "active"}
    ]


def test_the_profile_body_loses_its_credentials(fake: ChatwootFake) -> None:
    ctx = context()

    obs = call_probe(chatwoot, make_check(base_url=fake.url), ctx)

    body = json.loads(obs.body or b"")
    assert body["name"] == "Support Bot Owner"
    for field in chatwoot.SECRET_FIELDS:
        assert field not in body
    # The vendor-returned values are now secrets the engine redacts everywhere.
    assert ctx.secrets.redact(f"x {fake.pubsub_token} y") == "x *** y"
    assert TOKEN not in repr(obs)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HW_SECRET_HOTDASH_CHATWOOT_API_TOKEN": "not-the-token"}, "Invalid Access Token"),
        (
            {"HW_SECRET_HOTDASH_CHATWOOT_API_TOKEN": " "},
            "You need to sign in or sign up before continuing.",
        ),
    ],
)
def test_a_rejected_token_is_down_with_chatwoots_message(
    fake: ChatwootFake, environ: dict[str, str], message: str
) -> None:
    obs = call_probe(chatwoot, make_check(base_url=fake.url), context(environ))

    assert status_of(obs) == "down"
    assert obs.http_status == 401
    assert obs.error == f"auth: Chatwoot rejected the API access token: {message}"
    assert obs.details["credential"] == REFERENCE
    assert obs.details["health"]["status"] == "woot"


@pytest.mark.parametrize(
    ("setup", "status", "error"),
    [
        (
            lambda f: setattr(f, "override", fake_chatwoot.throttled()),
            "degraded",
            "rate_limited: Chatwoot throttled the request: Retry later",
        ),
        (
            lambda f: setattr(f, "override", fake_chatwoot.server_error()),
            "down",
            "http_error: Chatwoot answered 500 Internal Server Error: Internal Server Error",
        ),
        (
            lambda f: setattr(f, "health", Response(503, "down")),
            "degraded",
            "health: /health answered 503",
        ),
        (
            lambda f: setattr(f, "override", Response(200, "<html>sign in</html>")),
            "down",
            "invalid_json: /api/v1/profile did not return a user",
        ),
    ],
)
def test_vendor_trouble(fake: ChatwootFake, setup: Any, status: str, error: str) -> None:
    setup(fake)

    obs = call_probe(chatwoot, make_check(base_url=fake.url), context())

    assert status_of(obs) == status
    assert obs.error == error


def test_api_health_path_reports_failing_dependencies(fake: ChatwootFake) -> None:
    fake.services["queue_services"] = "failing"

    obs = call_probe(chatwoot, make_check(base_url=fake.url, health_path="/api"), context())

    assert status_of(obs) == "degraded"
    assert obs.error == "health: /api reports queue_services failing"
    assert obs.details["health"]["version"] == "4.8.0"


@pytest.mark.parametrize(
    ("account_id", "account_status", "error"),
    [
        (2, "active", "forbidden: the token's user is not a member of account 2"),
        (1, "suspended", "suspended: account 1 is suspended"),
    ],
)
def test_account_membership(
    fake: ChatwootFake, account_id: int, account_status: str, error: str
) -> None:
    fake.accounts[0]["status"] = account_status

    obs = call_probe(chatwoot, make_check(base_url=fake.url, account_id=account_id), context())

    assert status_of(obs) == "down"
    assert obs.error == error


def test_without_health_only_the_profile_is_called(fake: ChatwootFake) -> None:
    obs = call_probe(chatwoot, make_check(base_url=fake.url, check_health=False), context())

    assert status_of(obs) == "up"
    assert [r.path for r in fake.requests] == ["/api/v1/profile"]
    assert "health" not in obs.details


def test_an_unreachable_server_raises_naming_the_step() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(ProbeError) as refused:
        call_probe(chatwoot, make_check(base_url=f"http://127.0.0.1:{port}"), context())

    assert refused.value.kind == "connection_refused"
    assert refused.value.message == "connection refused (on /health)"


def test_target_and_validation() -> None:
    check = make_check(base_url="https://hotdash-chatwoot.fly.dev/")
    assert check.target == "https://hotdash-chatwoot.fly.dev/api/v1/profile"
    with pytest.raises(ConfigError) as bad:
        make_check(base_url="https://x.example", health_path="health")
    assert "health_path" in str(bad.value)
