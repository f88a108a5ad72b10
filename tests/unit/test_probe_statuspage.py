"""The `statuspage` probe against a fake Statuspage v2 page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import yaml
from healthwatch.errors import ConfigError, ProbeError
from healthwatch.probes import Observation, ProbeContext, statuspage
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets

from tests.fakes.server import FakeServer
from tests.fakes.statuspage import FakeStatuspage
from tests.helpers import call_probe

COMPONENTS = ["API", "ChatGPT", "Sora", "Playground"]


def make_check(page_url: str, **options: Any) -> Any:
    check = {
        "id": "openai-status",
        "tier": "integrations",
        "type": "statuspage",
        "url": "https://status.openai.com",
        "base_url": page_url,
        **options,
    }
    doc = {"tiers": {"integrations": {"schedule": "rate(1 hour)"}}, "checks": [check]}
    return parse_config(yaml.safe_dump(doc)).checks[0]


def make_ctx() -> ProbeContext:
    return ProbeContext(
        session=requests.Session(),
        secrets=Secrets.local({}),
        timeout=5,
        now=lambda: datetime.now(UTC),
    )


@pytest.fixture(scope="module")
def server():
    with FakeServer() as running:
        yield running


@pytest.fixture
def page(server: FakeServer):
    with FakeStatuspage("OpenAI", COMPONENTS, server=server) as fake:
        yield fake


def run(page: FakeStatuspage, **options: Any) -> Observation:
    return call_probe(statuspage, make_check(page.url, **options), make_ctx())


@pytest.mark.parametrize(
    ("indicator", "verdict"),
    [
        ("none", "up"),
        ("minor", "degraded"),
        ("major", "down"),
        ("critical", "down"),
        ("maintenance", "degraded"),
    ],
)
def test_the_page_indicator_maps_to_a_verdict(
    page: FakeStatuspage, indicator: str, verdict: str
) -> None:
    page.indicator = indicator
    obs = run(page)
    assert obs.verdict == verdict
    assert obs.details["indicator"] == indicator
    assert obs.http_status == 200 and obs.error is None


def test_an_operational_page_is_up_with_readable_details(page: FakeStatuspage) -> None:
    obs = run(page)
    assert obs.verdict == "up"
    assert obs.details["summary"] == "OpenAI: All Systems Operational (none)"
    assert obs.details["affected_components"] == [] and obs.details["incidents"] == []
    # The raw summary is the body, for [BODY] conditions
    assert json.loads(obs.body or b"")["status"]["indicator"] == "none"
    assert page.server.requests[-1].path == "/api/v2/summary.json"


def test_an_incident_is_reported_with_what_a_person_needs(page: FakeStatuspage) -> None:
    # Given a major incident on the API
    page.set_component("API", "partial_outage")
    page.add_incident("Elevated error rates on the API", impact="major", components=["API"])

    obs = run(page)

    assert obs.verdict == "down"
    assert obs.details["affected_components"] == [{"name": "API", "status": "partial_outage"}]
    incident = obs.details["incidents"][0]
    assert incident["name"] == "Elevated error rates on the API"
    assert incident["impact"] == "major" and incident["status"] == "investigating"
    assert incident["shortlink"].startswith("https://stspg.io/")
    assert incident["latest_update"] == "We are investigating elevated error rates."
    assert obs.details["summary"] == (
        "OpenAI: Partial System Outage (major); affected: API partial_outage; "
        "incidents: Elevated error rates on the API"
    )


def test_down_at_critical_keeps_a_major_indicator_degraded(page: FakeStatuspage) -> None:
    page.indicator = "major"
    assert run(page, down_at="critical").verdict == "degraded"
    page.indicator = "critical"
    assert run(page, down_at="critical").verdict == "down"


@pytest.mark.parametrize(
    ("api", "chatgpt", "verdict"),
    [
        ("operational", "major_outage", "up"),  # only the named component counts
        ("degraded_performance", "operational", "degraded"),
        ("partial_outage", "operational", "down"),
        ("major_outage", "operational", "down"),
        ("under_maintenance", "operational", "degraded"),
    ],
)
def test_named_components_decide_alone(
    page: FakeStatuspage, api: str, chatgpt: str, verdict: str
) -> None:
    page.set_component("API", api)
    page.set_component("ChatGPT", chatgpt)
    obs = run(page, components=["api"])  # names match case-insensitively
    assert obs.verdict == verdict
    assert obs.details["components"] == [{"name": "API", "status": api}]


def test_named_components_only_show_their_incidents(page: FakeStatuspage) -> None:
    page.set_component("ChatGPT", "major_outage")
    page.add_incident("ChatGPT unavailable", impact="critical", components=["ChatGPT"])
    page.add_incident("Degraded API latency", impact="minor", components=["API"])
    page.set_component("API", "degraded_performance")

    obs = run(page, components=["API"])

    assert obs.verdict == "degraded"
    assert [i["name"] for i in obs.details["incidents"]] == ["Degraded API latency"]
    assert obs.details["summary"] == (
        "OpenAI: API degraded_performance; incidents: Degraded API latency"
    )


def test_a_group_is_as_bad_as_its_worst_member(page: FakeStatuspage) -> None:
    page.add_group("Realtime", ["Realtime API", "Voice mode"])
    page.set_component("Voice mode", "major_outage")
    assert run(page, components=["Realtime"]).verdict == "down"
    assert run(page, components=["Realtime API"]).verdict == "up"


def test_an_unknown_component_name_is_a_clear_error(page: FakeStatuspage) -> None:
    with pytest.raises(ProbeError) as info:
        run(page, components=["Dall-E"])
    assert info.value.kind == "not_found"
    assert info.value.message == (
        "component 'Dall-E' is not on the status page (it has: API, ChatGPT, Playground, Sora)"
    )


def test_maintenance_in_progress_is_degraded_and_listed(page: FakeStatuspage) -> None:
    page.set_component("Playground", "under_maintenance")
    page.add_maintenance("Database upgrade", components=["Playground"])
    page.add_maintenance("Next week's upgrade", status="scheduled")
    obs = run(page)
    assert obs.verdict == "degraded" and obs.details["indicator"] == "maintenance"
    assert [m["name"] for m in obs.details["maintenances"]] == ["Database upgrade"]
    assert "maintenance: Database upgrade" in obs.details["summary"]


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "message"),
    [
        (
            429,
            "Rate limit exceeded",
            {"Retry-After": "30"},
            "rate_limited",
            "the status page is rate limiting (429); retry after 30s",
        ),
        (
            404,
            "<html>Not found</html>",
            {},
            "not_found",
            "no Statuspage v2 summary at https://status.openai.com/api/v2/summary.json (404)",
        ),
        (503, "", {}, "http_error", "the status page answered 503"),
        (
            200,
            "<html>a status page</html>",
            {},
            "invalid_json",
            "https://status.openai.com/api/v2/summary.json is not JSON",
        ),
        (200, {"status": "ok"}, {}, "invalid_json", "is not a Statuspage v2 summary"),
    ],
)
def test_errors_are_clear(
    page: FakeStatuspage, status: int, body: Any, headers: dict[str, str], kind: str, message: str
) -> None:
    page.queue(status, body, headers)
    with pytest.raises(ProbeError) as info:
        run(page)
    assert info.value.kind == kind
    assert message in info.value.message


def test_the_url_may_name_the_api_and_the_target_is_the_page() -> None:
    check = make_check("http://127.0.0.1:9", url="https://status.openai.com/api/v2/summary.json")
    assert check.options.url == "https://status.openai.com"
    assert check.target == "https://status.openai.com"
    with pytest.raises(ConfigError, match="expected an http"):
        make_check("status.openai.com")
    with pytest.raises(ConfigError, match="down_at"):
        make_check("http://127.0.0.1:9", down_at="minor")


def test_without_base_url_the_page_itself_is_fetched(page: FakeStatuspage) -> None:
    doc = {
        "tiers": {"t": {"schedule": "rate(1 hour)"}},
        "checks": [{"id": "s", "tier": "t", "type": "statuspage", "url": page.url + "/"}],
    }
    check = parse_config(yaml.safe_dump(doc)).checks[0]
    assert call_probe(statuspage, check, make_ctx()).verdict == "up"
