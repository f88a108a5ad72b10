"""The `tls` probe and `fetch_certificate` against loopback servers with test-made certificates."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import yaml
from healthwatch.conditions import EvalContext, evaluate_all
from healthwatch.errors import ConfigError, ProbeError
from healthwatch.probes import Observation, ProbeContext, tls
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets

from tests.fakes.server import FakeServer
from tests.fakes.tls import TlsServer

DAY_MS = 86_400_000


def make_check(**options: Any) -> Any:
    check = {"id": "cert", "tier": "comprehensive", "type": "tls", "host": "127.0.0.1", **options}
    doc = {"tiers": {"comprehensive": {"schedule": "rate(6 hours)"}}, "checks": [check]}
    return parse_config(yaml.safe_dump(doc)).checks[0]


def make_ctx(now: datetime | None = None, timeout: float = 5) -> ProbeContext:
    moment = now or datetime.now(UTC)
    return ProbeContext(
        session=requests.Session(), secrets=Secrets.local({}), timeout=timeout, now=lambda: moment
    )


def run(srv: TlsServer, now: datetime | None = None, **options: Any) -> Observation:
    options.setdefault("ca_bundle", srv.ca_file)
    return tls.probe(make_check(port=srv.port, **options), make_ctx(now))


def test_a_valid_certificate_leaves_the_verdict_to_the_conditions() -> None:
    with TlsServer(days_valid=30) as srv:
        obs = run(srv)
    assert obs.error is None and obs.verdict is None
    assert obs.connected is True and obs.ip == "127.0.0.1"
    assert obs.certificate_expiration_ms == pytest.approx(30 * DAY_MS, rel=0.001)
    assert obs.default_conditions == ("[CERTIFICATE_EXPIRATION] > 48h",)
    d = obs.details
    assert d["issuer"] == "CN=healthwatch test CA,O=healthwatch tests"
    assert d["subject"] == "CN=localhost"
    assert d["sans"] == ["localhost", "127.0.0.1"]
    assert d["hostname_match"] is True and d["verified"] is True and d["verify_error"] is None
    assert d["days_left"] == pytest.approx(30, abs=0.1)
    assert d["not_after"].endswith("Z") and d["tls_version"].startswith("TLS")
    assert len(d["fingerprint_sha256"]) == 64
    assert (
        d["summary"].startswith("valid for 30 days (until ")
        and "issued by CN=healthwatch test CA" in d["summary"]
    )


@pytest.mark.parametrize(("days", "passes"), [(30, True), (10, False)])
def test_certificate_expiration_conditions_see_the_time_left(days: int, passes: bool) -> None:
    # Given HotDash's condition: at least 14 days left
    with TlsServer(days_valid=days) as srv:
        check = make_check(
            port=srv.port, ca_bundle=srv.ca_file, conditions=["[CERTIFICATE_EXPIRATION] > 336h"]
        )
        obs = tls.probe(check, make_ctx())
    # When the condition is evaluated on what the probe saw
    [result] = evaluate_all(
        check.parsed_conditions,
        EvalContext(
            status=None,
            response_time_ms=obs.latency_ms,
            body=None,
            ip=obs.ip,
            connected=obs.connected,
            certificate_expiration_ms=obs.certificate_expiration_ms,
        ),
    )
    # Then it passes with 30 days left and fails with 10
    assert result.success is passes
    assert obs.error is None  # near expiry is the conditions' call, not an error


def test_an_expired_certificate_is_down_with_details() -> None:
    with TlsServer(expired=True) as srv:
        obs = run(srv)
    assert obs.verdict == "down"
    assert obs.error is not None and obs.error.startswith(
        "tls: certificate expired 1d ago (not after "
    )
    assert obs.certificate_expiration_ms is not None and obs.certificate_expiration_ms < 0
    assert (
        obs.details["verified"] is False
        and obs.details["verify_error"] == "certificate has expired"
    )
    assert obs.details["days_left"] == pytest.approx(-1, abs=0.1)


def test_expiry_is_judged_at_the_injected_time() -> None:
    with TlsServer(days_valid=30) as srv:
        later = datetime.now(UTC) + timedelta(days=31)
        obs = run(srv, now=later)
    assert obs.verdict == "down" and obs.error is not None
    assert obs.error.startswith("tls: certificate expired 1d ago")


def test_a_certificate_not_valid_yet_is_down() -> None:
    with TlsServer(not_yet_valid=True) as srv:
        obs = run(srv)
    assert obs.verdict == "down"
    assert obs.error is not None and obs.error.startswith("tls: certificate not valid before ")


def test_a_hostname_mismatch_is_down_and_says_for_whom_it_is() -> None:
    with TlsServer(hostname="wrong.example") as srv:
        obs = run(srv, server_name="localhost")
    assert obs.verdict == "down"
    assert (
        obs.error == "tls: hostname mismatch: the certificate is for wrong.example, not localhost"
    )
    assert obs.details["hostname_match"] is False
    assert obs.details["verified"] is True  # the chain itself is fine


def test_server_name_sets_the_name_to_match() -> None:
    with TlsServer(hostname="api.hotdash.test") as srv:
        obs = run(srv, server_name="api.hotdash.test")
    assert obs.error is None and obs.details["server_name"] == "api.hotdash.test"


@pytest.mark.parametrize(
    ("server", "ca", "error"),
    [
        ({}, False, "tls: certificate not trusted (unable to get local issuer certificate)"),
        ({"self_signed": True}, True, "tls: certificate not trusted (self-signed certificate)"),
    ],
)
def test_an_untrusted_chain_is_down(server: dict[str, Any], ca: bool, error: str) -> None:
    with TlsServer(**server) as srv:
        obs = tls.probe(
            make_check(port=srv.port, **({"ca_bundle": srv.ca_file} if ca else {})), make_ctx()
        )
    assert obs.verdict == "down" and obs.error == error
    assert obs.details["issuer"]  # read from the unverified handshake


def test_verify_false_reports_without_judging_the_chain() -> None:
    with TlsServer(self_signed=True) as srv:
        obs = tls.probe(make_check(port=srv.port, verify=False), make_ctx())
    assert obs.error is None and obs.details["verified"] is None


def test_fetch_certificate_is_the_api_the_http_probe_uses() -> None:
    with TlsServer(days_valid=20) as srv:
        info = tls.fetch_certificate("127.0.0.1", srv.port, timeout=5, ca_bundle=srv.ca_file)
        unverified = tls.fetch_certificate("localhost", srv.port, timeout=5, verify=False)
    assert info.not_after == srv.not_after and info.not_after.tzinfo is not None
    assert info.not_before == srv.not_before
    assert info.days_left == pytest.approx(20, abs=0.01)
    assert info.sans == ("localhost", "127.0.0.1") and info.hostname_match
    assert info.verified is True and not info.expired and info.problem() is None
    assert info.ip == "127.0.0.1" and info.handshake_ms > 0
    assert unverified.verified is None and unverified.server_name == "localhost"
    assert unverified.fingerprint_sha256 == info.fingerprint_sha256


def test_connection_failures_raise_short_classes() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProbeError) as info:
        tls.fetch_certificate("127.0.0.1", port, timeout=2)
    assert info.value.kind == "connection_refused"

    with pytest.raises(ProbeError) as info:
        tls.fetch_certificate("does-not-exist.invalid", 443, timeout=2)
    assert info.value.kind == "dns"

    with FakeServer() as plain, pytest.raises(ProbeError) as info:
        tls.fetch_certificate("127.0.0.1", int(plain.url.rsplit(":", 1)[1]), timeout=2)
    assert info.value.kind == "tls"
    assert "does not speak TLS" in info.value.message


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:  # accepts TCP (backlog) but never answers a ClientHello
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(ProbeError) as info:
            tls.probe(make_check(port=port), make_ctx(timeout=0.3))
    assert info.value.kind == "timeout"


@pytest.mark.parametrize(
    ("name", "sans", "match"),
    [
        ("example.com", ["example.com"], True),
        ("EXAMPLE.com.", ["example.com"], True),
        ("api.example.com", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),
        ("a.b.example.com", ["*.example.com"], False),
        ("example.com", ["*.com"], False),
        ("other.com", ["example.com", "www.example.com"], False),
        ("127.0.0.1", ["localhost", "127.0.0.1"], True),
        ("127.0.0.1", ["localhost"], False),
        ("::1", ["0:0:0:0:0:0:0:1"], True),
    ],
)
def test_hostname_matching(name: str, sans: list[str], match: bool) -> None:
    assert tls.hostname_matches(name, sans) is match


def test_options() -> None:
    check = make_check(host="https://hotdash-agent-service.fly.dev:8443/health")
    assert check.options.host == "hotdash-agent-service.fly.dev" and check.options.port == 8443
    assert check.target == "tls://hotdash-agent-service.fly.dev:8443"
    assert make_check(host="::1").target == "tls://[::1]:443"
    with pytest.raises(ConfigError, match="expected a host name"):
        make_check(host="a host")
    with pytest.raises(ConfigError, match="port"):
        make_check(port=70000)
