"""The `openai` probe against a fake API: a bad key or no credit is down, a rate limit degraded."""

from __future__ import annotations

import secrets
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import yaml
from healthwatch.config import Check
from healthwatch.errors import ConfigError, ProbeError
from healthwatch.probes import Observation, ProbeContext, openai
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets

from tests.fakes import openai as fake_openai
from tests.fakes.openai import OpenAIFake
from tests.fakes.server import Response
from tests.helpers import call_probe

KEY = "sk-proj-" + secrets.token_urlsafe(36)
REFERENCE = "${secret:hotdash/openai-api-key}"
ENV = {"HW_SECRET_HOTDASH_OPENAI_API_KEY": KEY}


@pytest.fixture(scope="module")
def server() -> Any:
    with OpenAIFake(KEY) as started:
        yield started


@pytest.fixture
def fake(server: OpenAIFake) -> OpenAIFake:
    server.reset()
    return server


def make_check(**options: Any) -> Check:
    check = {
        "id": "openai",
        "tier": "integrations",
        "type": "openai",
        "token": REFERENCE,
        **options,
    }
    text = yaml.safe_dump(
        {"tiers": {"integrations": {"schedule": "rate(1 hour)"}}, "checks": [check]}
    )
    return parse_config(text).checks[0]


def context(environ: dict[str, str] = ENV, timeout: float = 5) -> ProbeContext:
    return ProbeContext(
        session=requests.Session(),
        secrets=Secrets.local(environ),
        timeout=timeout,
        now=lambda: datetime.now(UTC),
    )


def status_of(obs: Observation) -> str:
    if obs.error is not None and obs.verdict is None:
        return "down"
    return obs.verdict or "up"


def test_up_lists_models_and_keeps_the_rate_limit_headers(fake: OpenAIFake) -> None:
    obs = call_probe(openai, make_check(base_url=fake.url, model="gpt-4o-mini"), context())

    assert status_of(obs) == "up", obs.error
    (req,) = fake.requests
    assert (req.method, req.path) == ("GET", "/v1/models")
    assert req.header("Authorization") == f"Bearer {KEY}"
    assert obs.details["models"] == 3
    assert obs.details["model_available"] is True
    assert obs.details["ratelimit"] == {
        "limit_requests": 10000,
        "limit_tokens": 30000000,
        "remaining_requests": 9999,
        "remaining_tokens": 29999990,
        "reset_requests": "6ms",
        "reset_tokens": "0s",
    }
    assert obs.details["organization"] == "org-fake"
    assert obs.details["request_id"].startswith("req_")
    assert obs.details["processing_ms"] == 12


def test_organization_and_project_headers_are_sent(fake: OpenAIFake) -> None:
    obs = call_probe(
        openai,
        make_check(base_url=fake.url, organization="org-fake", project="proj_123"),
        context(),
    )

    assert status_of(obs) == "up"
    (req,) = fake.requests
    assert req.header("OpenAI-Organization") == "org-fake"
    assert req.header("OpenAI-Project") == "proj_123"


@pytest.mark.parametrize(
    ("environ", "options", "code"),
    [
        (
            {"HW_SECRET_HOTDASH_OPENAI_API_KEY": "sk-proj-wrongwrongwrong1234"},
            {},
            "invalid_api_key",
        ),
        (ENV, {"organization": "org-other"}, "mismatched_organization"),
    ],
)
def test_a_rejected_key_is_down_and_the_echoed_key_is_not_kept(
    fake: OpenAIFake, environ: dict[str, str], options: dict[str, str], code: str
) -> None:
    obs = call_probe(openai, make_check(base_url=fake.url, **options), context(environ))

    assert status_of(obs) == "down"
    assert obs.http_status == 401
    assert obs.error == f"auth: OpenAI rejected the API key ({code})"
    assert obs.details["code"] == code
    assert obs.details["credential"] == REFERENCE
    assert "Incorrect API key provided" not in repr(obs)
    assert "sk-proj-" not in repr(obs)


@pytest.mark.parametrize(
    ("response", "status", "kind", "fragment"),
    [
        (fake_openai.insufficient_quota(), "down", "quota", "You exceeded your current quota"),
        (fake_openai.rate_limited(), "degraded", "rate_limited", "Rate limit reached for requests"),
        (fake_openai.unsupported_country(), "down", "forbidden", "Country, region, or territory"),
        (fake_openai.server_error(), "down", "http_error", "The server had an error"),
    ],
)
def test_vendor_errors(
    fake: OpenAIFake, response: Response, status: str, kind: str, fragment: str
) -> None:
    fake.override = response

    obs = call_probe(openai, make_check(base_url=fake.url), context())

    assert status_of(obs) == status
    assert obs.http_status == response.status
    assert obs.error is not None and obs.error.startswith(f"{kind}: ")
    assert fragment in obs.error


def test_quota_says_what_to_do_and_rate_limit_keeps_the_headers(fake: OpenAIFake) -> None:
    fake.override = fake_openai.insufficient_quota()
    quota = call_probe(openai, make_check(base_url=fake.url), context())
    assert quota.details["code"] == "insufficient_quota"
    assert "billing" in quota.details["action"]

    fake.override = fake_openai.rate_limited()
    limited = call_probe(openai, make_check(base_url=fake.url), context())
    assert limited.details["code"] == "rate_limit_exceeded"
    assert limited.details["retry_after_s"] == "20"
    assert limited.details["ratelimit"]["remaining_requests"] == 0
    assert limited.details["ratelimit"]["reset_requests"] == "20s"


def test_a_missing_model_is_down(fake: OpenAIFake) -> None:
    obs = call_probe(openai, make_check(base_url=fake.url, model="gpt-9"), context())

    assert status_of(obs) == "down"
    assert obs.error == "not_found: model gpt-9 is not available to this key"
    assert obs.details["model_available"] is False


def test_a_non_json_answer_is_invalid_json(fake: OpenAIFake) -> None:
    fake.override = Response(200, "<html>captive portal</html>")

    obs = call_probe(openai, make_check(base_url=fake.url), context())

    assert obs.error == "invalid_json: /v1/models did not return a list of models"


def test_refused_connection_raises() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProbeError) as refused:
        call_probe(openai, make_check(base_url=f"http://127.0.0.1:{port}"), context())
    assert refused.value.kind == "connection_refused"


def test_mask_removes_every_word_sharing_a_run_with_the_key() -> None:
    key = "sk-proj-Abcdefghijklmnopqrstuvwxyz0123"
    text = f"Incorrect API key provided: {fake_openai.masked(key)}; also {key} and Abcdefgh."

    masked = openai._mask(text, key)

    assert masked == "Incorrect API key provided: ***; also *** and ***"
    assert openai._mask("Rate limit reached for requests in org-x", key) == (
        "Rate limit reached for requests in org-x"
    )


def test_target_and_validation() -> None:
    assert make_check().target == "https://api.openai.com/v1/models"
    with pytest.raises(ConfigError) as bad:
        make_check(base_url="api.openai.com")
    assert "base_url" in str(bad.value)
