"""The `ga4` probe against a fake Google: JWT bearer grant, token cache, Admin and Data calls."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import yaml
from healthwatch.config import Check
from healthwatch.errors import ConfigError, ProbeError
from healthwatch.probes import Observation, ProbeContext, ga4
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets

from tests.fakes import ga4 as fake_google
from tests.fakes.ga4 import GoogleFake, ServiceAccount, make_service_account
from tests.fakes.server import Response
from tests.helpers import call_probe

REFERENCE = "${secret:hotdash/ga4-service-account}"
VARIABLE = "HW_SECRET_HOTDASH_GA4_SERVICE_ACCOUNT"


@pytest.fixture(scope="module")
def server() -> Any:
    with GoogleFake() as started:
        yield started


@pytest.fixture(scope="module")
def account(server: GoogleFake) -> ServiceAccount:
    sa = make_service_account(server.token_uri)
    server.register(sa)
    return sa


@pytest.fixture
def fake(server: GoogleFake, account: ServiceAccount) -> GoogleFake:
    server.reset()
    ga4.clear_token_cache()
    return server


def make_check(**options: Any) -> Check:
    check = {"id": "ga4", "tier": "integrations", "type": "ga4", "credentials": REFERENCE}
    check.update({"property_id": "345678901", **options})
    text = yaml.safe_dump(
        {"tiers": {"integrations": {"schedule": "rate(1 hour)"}}, "checks": [check]}
    )
    return parse_config(text).checks[0]


def context(key_json: str, timeout: float = 5, **env: str) -> ProbeContext:
    return ProbeContext(
        session=requests.Session(),
        secrets=Secrets.local({VARIABLE: key_json, **env}),
        timeout=timeout,
        now=lambda: datetime.now(UTC),
    )


def status_of(obs: Observation) -> str:
    if obs.error is not None and obs.verdict is None:
        return "down"
    return obs.verdict or "up"


def test_data_api_up_after_a_verified_jwt_bearer_grant(
    fake: GoogleFake, account: ServiceAccount
) -> None:
    # Given a registered service account with access to the property
    check = make_check(base_url=fake.url)

    # When the probe runs
    obs = call_probe(ga4, check, context(account.json))

    # Then it exchanged a signed JWT for a token, then ran a one-metric report with it
    assert status_of(obs) == "up", obs.error
    grant, report = fake.requests
    assert grant.path == "/token"
    assert b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" in grant.body
    assert report.path == "/v1beta/properties/345678901:runReport"
    ((token, (_, scope, issuer)),) = fake.tokens.items()
    assert report.header("Authorization") == f"Bearer {token}"
    assert scope == fake_google.SCOPE and issuer == account.email
    assert report.json()["metrics"] == [{"name": "activeUsers"}]
    assert obs.details["active_users"] == 42
    assert obs.details["quota_remaining"]["tokens_per_day"] == 199_997
    assert obs.details["service_account"] == account.email
    assert obs.details["key_id"] == account.info["private_key_id"]
    assert obs.details["token_ms"] >= 0
    assert token not in repr(obs)


def test_admin_api_up(fake: GoogleFake, account: ServiceAccount) -> None:
    obs = call_probe(ga4, make_check(base_url=fake.url, api="admin"), context(account.json))

    assert status_of(obs) == "up", obs.error
    assert fake.requests[-1].method == "GET"
    assert fake.requests[-1].path == "/v1beta/properties/345678901"
    assert obs.details["display_name"] == "HotDash - GA4"
    assert obs.details["time_zone"] == "America/New_York"
    assert obs.details["account"] == "accounts/287654321"


def test_the_token_is_cached_per_container_and_remembered_by_each_run(
    fake: GoogleFake, account: ServiceAccount
) -> None:
    check = make_check(base_url=fake.url)
    call_probe(ga4, check, context(account.json))
    (token,) = fake.tokens

    second = context(account.json)  # the next run: a new Secrets, the same container
    obs = call_probe(ga4, check, second)

    assert status_of(obs) == "up"
    assert len(fake.requests_to("/token")) == 1
    assert "token_ms" not in obs.details
    assert second.secrets.redact(f"Bearer {token}") == "Bearer ***"


def test_a_token_close_to_expiry_is_replaced(fake: GoogleFake, account: ServiceAccount) -> None:
    fake.expires_in = ga4.REFRESH_MARGIN_S - 60
    check = make_check(base_url=fake.url)

    call_probe(ga4, check, context(account.json))
    call_probe(ga4, check, context(account.json))

    assert len(fake.requests_to("/token")) == 2


@pytest.mark.parametrize(
    ("which", "description"),
    [
        ("other_key", "invalid_grant: Invalid JWT Signature."),
        ("unknown_account", "invalid_grant: Invalid grant: account not found"),
    ],
)
def test_a_refused_grant_is_down_with_googles_message(
    fake: GoogleFake, account: ServiceAccount, which: str, description: str
) -> None:
    # Given a key Google does not accept: a deleted key (another key pair for the same
    # account), or a deleted service account
    if which == "other_key":
        key_json = make_service_account(fake.token_uri, email=account.email).json
    else:
        key_json = make_service_account(fake.token_uri, email="gone@x.iam.gserviceaccount.com").json

    obs = call_probe(ga4, make_check(base_url=fake.url), context(key_json))

    assert status_of(obs) == "down"
    assert obs.error == f"auth: token exchange failed: {description}"
    assert obs.details["credential"] == REFERENCE
    assert obs.details["token_uri"] == fake.token_uri
    assert REFERENCE in obs.details["action"]
    assert fake.requests_to("/v1beta/properties/345678901:runReport") == []


@pytest.mark.parametrize(
    ("setup", "status", "error", "action"),
    [
        (
            lambda f: f.granted.clear(),
            "down",
            "forbidden: User does not have sufficient permissions for this property.",
            "Property access management",
        ),
        (
            lambda f: setattr(f, "api_override", fake_google.service_disabled("data")),
            "down",
            "forbidden: Google Analytics Data API has not been used in project",
            "Enable the Google Analytics Data API in Google Cloud project hotdash-analytics",
        ),
        (
            lambda f: setattr(f, "api_override", fake_google.quota_exhausted()),
            "degraded",
            "rate_limited: Exhausted property tokens per hour",
            None,
        ),
        (
            lambda f: setattr(f, "api_override", Response(500, {"error": {"code": 500}})),
            "down",
            "http_error: Google answered 500 Internal Server Error",
            None,
        ),
    ],
)
def test_api_refusals(
    fake: GoogleFake,
    account: ServiceAccount,
    setup: Any,
    status: str,
    error: str,
    action: str | None,
) -> None:
    setup(fake)

    obs = call_probe(ga4, make_check(base_url=fake.url), context(account.json))

    assert status_of(obs) == status
    assert obs.error is not None and obs.error.startswith(error), obs.error
    if action:
        assert action in obs.details["action"]


def test_a_rejected_token_is_down_and_dropped_from_the_cache(
    fake: GoogleFake, account: ServiceAccount
) -> None:
    check = make_check(base_url=fake.url)
    call_probe(ga4, check, context(account.json))
    fake.tokens.clear()  # Google forgot (revoked) the token

    obs = call_probe(ga4, check, context(account.json))
    again = call_probe(ga4, check, context(account.json))

    assert status_of(obs) == "down"
    assert obs.error is not None
    assert obs.error.startswith("auth: Request had invalid authentication credentials.")
    assert obs.details["google_status"] == "UNAUTHENTICATED"
    assert status_of(again) == "up"
    assert len(fake.requests_to("/token")) == 2


def test_property_from_an_environment_reference(fake: GoogleFake, account: ServiceAccount) -> None:
    check = make_check(base_url=fake.url, api="admin", property_id="${env:GA4_PROPERTY_ID}")

    obs = call_probe(ga4, check, context(account.json, GA4_PROPERTY_ID="345678901"))

    assert status_of(obs) == "up", obs.error
    assert check.target == f"{fake.url}/v1beta/properties/${{env:GA4_PROPERTY_ID}}"


def test_another_property_is_forbidden(fake: GoogleFake, account: ServiceAccount) -> None:
    obs = call_probe(ga4, make_check(base_url=fake.url, property_id=999), context(account.json))

    assert status_of(obs) == "down"
    assert obs.error is not None and obs.error.startswith("forbidden: User does not have")


@pytest.mark.parametrize(
    ("key_json", "message"),
    [
        ("not json at all", "not JSON: expected the contents of a service-account key file"),
        (
            '{"type": "authorized_user"}',
            "not a service-account key (`type` must be service_account)",
        ),
        ('{"type": "service_account"}', "the key lacks client_email, private_key, token_uri"),
        (
            '{"type": "service_account", "client_email": "a@b", "token_uri": "http://x/token",'
            ' "private_key": "-----BEGIN PRIVATE KEY-----\\nnot a key\\n"}',
            "the service-account key could not be loaded (",
        ),
    ],
)
def test_unusable_keys_raise_without_their_content(key_json: str, message: str) -> None:
    with pytest.raises(ProbeError) as raised:
        call_probe(ga4, make_check(base_url="http://127.0.0.1:9"), context(key_json))

    assert raised.value.kind == "credentials"
    assert raised.value.message.startswith(message)
    assert "not a key" not in str(raised.value)


def test_an_unreachable_token_endpoint_raises(account: ServiceAccount) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key_json = make_service_account(f"http://127.0.0.1:{port}/token", email=account.email).json
    ga4.clear_token_cache()

    with pytest.raises(ProbeError) as raised:
        call_probe(ga4, make_check(base_url="http://127.0.0.1:9"), context(key_json))

    assert raised.value.kind == "connection_refused"
    assert raised.value.message.endswith("(token endpoint)")


def test_token_endpoint_retries_stop_at_the_probe_timeout(
    fake: GoogleFake, account: ServiceAccount
) -> None:
    # Given a token endpoint failing with a 503, which google-auth retries: three tries in
    # all, the second about 1 s after the first (never less than 0.9 s), the third 2 s later
    fake.token_override = Response(503, {"error": "temporarily_unavailable"})

    # When the probe's 0.5 s budget runs out during the wait after the first try
    with pytest.raises(ProbeError) as raised:
        call_probe(ga4, make_check(base_url=fake.url), context(account.json, timeout=0.5))

    # Then the retry was never sent and the error names the budget. Unbounded, google-auth
    # would have sent all three and given up with a RefreshError: an `auth:` result instead.
    assert raised.value.kind == "timeout"
    assert raised.value.message == "no token within 0.5s (token endpoint)"
    assert len(fake.requests_to(fake_google.TOKEN_PATH)) == 1


def test_options_target_and_validation() -> None:
    assert make_check(property_id="properties/123").options.property_id == "123"
    assert make_check(property_id=123).options.property_id == "123"
    assert make_check().target == (
        "https://analyticsdata.googleapis.com/v1beta/properties/345678901:runReport"
    )
    assert make_check(api="admin").target == (
        "https://analyticsadmin.googleapis.com/v1beta/properties/345678901"
    )
    with pytest.raises(ConfigError) as bad:
        make_check(property_id="G-ABC123")
    assert "property_id" in str(bad.value)
    with pytest.raises(ConfigError) as bad_api:
        make_check(api="reporting")
    assert "api" in str(bad_api.value)
