"""The `shopify` probe against a fake Admin API: up, throttled (degraded), each refusal (down)."""

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
from healthwatch.probes import Observation, ProbeContext, shopify
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets

from tests.fakes import shopify as fake_shopify
from tests.fakes.server import Response
from tests.fakes.shopify import ShopifyFake
from tests.helpers import call_probe

TOKEN = "shpat_" + secrets.token_hex(16)
REFERENCE = "${secret:hotdash/shopify-admin-token}"
ENV = {"HW_SECRET_HOTDASH_SHOPIFY_ADMIN_TOKEN": TOKEN}


@pytest.fixture(scope="module")
def server() -> Any:
    with ShopifyFake(TOKEN) as started:
        yield started


@pytest.fixture
def fake(server: ShopifyFake) -> ShopifyFake:
    server.reset()
    return server


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_check(**options: Any) -> Check:
    check = {"id": "shopify", "tier": "integrations", "type": "shopify", "token": REFERENCE}
    check.update({"shop": "hotdash-test.myshopify.com", **options})
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
    """The engine's rule for a check without conditions."""
    if obs.error is not None and obs.verdict is None:
        return "down"
    return obs.verdict or "up"


def test_up_reports_the_shop_and_the_call_limit(fake: ShopifyFake) -> None:
    # Given a healthy shop
    check = make_check(base_url=fake.url)

    # When the probe runs
    obs = call_probe(shopify, check, context())

    # Then it is up, called the versioned shop.json with the token header, and says what it saw
    assert status_of(obs) == "up", obs.error
    assert obs.http_status == 200
    (req,) = fake.requests
    assert req.path == "/admin/api/2025-10/shop.json"
    assert req.header("X-Shopify-Access-Token") == TOKEN
    assert obs.details["shop"] == "hotdash-test.myshopify.com"
    assert obs.details["plan"] == "shopify_plus"
    assert obs.details["api_call_limit"] == "1/40"
    assert obs.details["api_version"] == "2025-10"
    assert obs.details["request_id"]
    assert obs.latency_ms is not None and obs.latency_ms >= 0
    assert b'"myshopify_domain"' in (obs.body or b"")


def test_wrong_token_is_down_with_shopify_message_and_the_reference(fake: ShopifyFake) -> None:
    check = make_check(base_url=fake.url)

    obs = call_probe(
        shopify, check, context({"HW_SECRET_HOTDASH_SHOPIFY_ADMIN_TOKEN": "shpat_wrong"})
    )

    assert status_of(obs) == "down"
    assert obs.http_status == 401
    assert obs.error is not None
    assert obs.error.startswith("auth: invalid access token: [API] Invalid API key or access token")
    assert obs.details["credential"] == REFERENCE
    assert REFERENCE in obs.details["action"]


@pytest.mark.parametrize(
    ("response", "kind", "reason", "fragment"),
    [
        (fake_shopify.frozen(), "frozen", "shop frozen (unpaid bill)", "Unavailable Shop"),
        (fake_shopify.missing_scope(), "forbidden", "missing access scope", "read_products scope"),
        (fake_shopify.locked(), "locked", "shop locked", "Locked"),
        (
            Response(403, {"errors": "Unavailable Shop"}),
            "unavailable",
            "shop unavailable (frozen, closed or paused)",
            "Unavailable Shop",
        ),
        (Response(404, {"errors": "Not Found"}), "not_found", "not found", "Not Found"),
    ],
)
def test_refusals_are_down_with_the_reason(
    fake: ShopifyFake, response: Response, kind: str, reason: str, fragment: str
) -> None:
    fake.override = response

    obs = call_probe(shopify, make_check(base_url=fake.url), context())

    assert status_of(obs) == "down"
    assert obs.http_status == response.status
    assert obs.error == f"{kind}: {reason}: {obs.error.split(': ', 2)[2]}"
    assert fragment in obs.error
    assert obs.details["reason"] == reason
    assert obs.details["action"]


def test_throttled_is_degraded_with_retry_after_and_call_limit(fake: ShopifyFake) -> None:
    fake.override = fake_shopify.throttled("2.0")

    obs = call_probe(shopify, make_check(base_url=fake.url), context())

    assert status_of(obs) == "degraded"
    assert obs.http_status == 429
    assert obs.error is not None
    assert obs.error.startswith("rate_limited: Shopify throttled the request (retry after 2.0s)")
    assert "Exceeded 2 calls per second" in obs.error
    assert obs.details["retry_after_s"] == 2.0
    assert obs.details["api_call_limit"] == "40/40"


def test_server_error_is_down(fake: ShopifyFake) -> None:
    fake.override = fake_shopify.server_error()

    obs = call_probe(shopify, make_check(base_url=fake.url), context())

    assert status_of(obs) == "down"
    assert obs.error == "http_error: Shopify answered 503 Service Unavailable"


def test_unsupported_version_served_forward_is_degraded(fake: ShopifyFake) -> None:
    # Given a pinned version Shopify no longer supports (it serves the oldest supported one)
    fake.served_version = "2025-01"

    obs = call_probe(shopify, make_check(base_url=fake.url, api_version="2024-01"), context())

    assert status_of(obs) == "degraded"
    assert obs.error is not None and obs.error.startswith("api_version: asked for 2024-01")
    assert obs.details["api_version"] == "2025-01"


def test_a_200_without_a_shop_is_invalid_json(fake: ShopifyFake) -> None:
    fake.override = Response(200, "<html>login</html>")

    obs = call_probe(shopify, make_check(base_url=fake.url), context())

    assert status_of(obs) == "down"
    assert obs.error == "invalid_json: shop.json did not return a `shop` object"


def test_redirects_are_not_followed_so_the_token_stays_home(fake: ShopifyFake) -> None:
    fake.override = Response(301, b"", headers={"Location": "http://127.0.0.1:9/elsewhere"})

    obs = call_probe(shopify, make_check(base_url=fake.url), context())

    assert status_of(obs) == "down"
    assert obs.error is not None and obs.error.startswith("http_error: redirected (301)")
    assert len(fake.requests) == 1


def test_timeout_and_refused_connections_raise_probe_errors(fake: ShopifyFake) -> None:
    fake.override = Response(200, {"shop": {}}, delay=1.0)
    with pytest.raises(ProbeError) as slow:
        call_probe(shopify, make_check(base_url=fake.url), context(timeout=0.2))
    assert slow.value.kind == "timeout"

    with pytest.raises(ProbeError) as refused:
        call_probe(shopify, make_check(base_url=closed_port_url()), context())
    assert refused.value.kind == "connection_refused"


def test_options_target_and_validation() -> None:
    check = make_check(shop="HotDash")
    assert check.options.shop == "hotdash.myshopify.com"
    assert check.target == "https://hotdash.myshopify.com/admin/api/2025-10/shop.json"

    with pytest.raises(ConfigError) as bad_shop:
        make_check(shop="shop.example.com")
    assert "myshopify.com" in str(bad_shop.value)
    with pytest.raises(ConfigError) as bad_version:
        make_check(api_version="2025-02")
    assert "api_version" in str(bad_version.value)
    with pytest.raises(ConfigError) as unknown:
        make_check(access_token="x")
    assert "access_token" in str(unknown.value)
