"""The `http` probe through the engine's `run_check`, against real loopback servers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from healthwatch.config import Check
from healthwatch.engine import Ports, RunContext, run_check, run_tier
from healthwatch.models import AlertState, Result
from healthwatch.probes.http import classify
from healthwatch.runtime.clients import aio_session, http_session
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets
from healthwatch.storage.local import LocalStore

from tests.fakes import raw
from tests.fakes.server import FakeServer, Request, Response

MiB = 1024 * 1024
TOKEN = "hw-test-token-5f1d2c9e8a"


@dataclass
class Servers:
    fake: FakeServer
    other: FakeServer  # a second origin (another port) for cross-origin redirects
    held: raw.RawServer  # answers 200 only when the module's tests are done (or after 30 s)
    trickling: raw.RawServer
    hangs_up: raw.RawServer
    refused_port: int


def _echo(req: Request) -> Response:
    return Response(200, {"method": req.method, "headers": req.headers, "body": req.body.decode()})


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    fake, other = FakeServer(), FakeServer()
    release = threading.Event()
    fake.route("GET", "/ok", Response(200, {"status": "ok", "items": [1, 2]}))
    fake.route("GET", "/missing", Response(404, {"error": "not found"}))
    fake.route("GET", "/boom", Response(500, "internal error"))
    fake.route("GET", "/slow", Response(200, "late", delay=0.2))
    fake.route("GET", "/html", Response(200, "<html>not json</html>"))
    fake.route("GET", "/big", Response(200, b"x" * (MiB + 1)))
    fake.route("GET", "/exactly-1mib", Response(200, b"x" * MiB))
    fake.route("GET", "/loop", Response(302, "", {"Location": "/loop"}))
    fake.route("GET", "/moved", Response(301, "", {"Location": "/ok"}))
    fake.route("POST", "/form", Response(303, "", {"Location": "/after-post"}))
    fake.route("GET", "/after-post", _echo)
    fake.route("POST", "/temporary", Response(307, "", {"Location": "/echo"}))
    fake.route("GET", "/set-cookie", Response(200, "", {"Set-Cookie": "sid=abc123; Path=/"}))
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        fake.route(method, "/echo", _echo)
    fake.route("HEAD", "/echo", Response(200))
    fake.route("GET", "/whoami", lambda req: Response(200, req.header("Authorization") or ""))
    for n in range(1, 4):  # /hops/3 -> /hops/2 -> /hops/1 -> /ok
        fake.route("GET", f"/hops/{n}", Response(302, "", {"Location": f"/hops/{n - 1}"}))
    fake.route("GET", "/hops/0", Response(302, "", {"Location": "/ok"}))
    other.route("GET", "/landing", _echo)
    with (
        fake,
        other,
        raw.RawServer(raw.answer_when_released(release, within=30)) as held,
        raw.RawServer(raw.trickle(b".", every=0.1, count=100)) as trickling,
        raw.RawServer(raw.close_immediately) as hangs_up,
    ):
        fake.route("GET", "/elsewhere", Response(302, "", {"Location": f"{other.url}/landing"}))
        try:
            yield Servers(fake, other, held, trickling, hangs_up, raw.closed_port())
        finally:
            release.set()


@pytest.fixture(autouse=True)
def _clear(servers: Servers) -> None:
    servers.fake.requests.clear()
    servers.other.requests.clear()


def make_check(check: dict[str, Any], **defaults: Any) -> Check:
    """A parsed `http` check; one attempt per run unless the test asks for retries."""
    document = {
        "defaults": {"retry_interval": 0, "timeout": "2s", **defaults},
        "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
        "checks": [{"id": "target", "tier": "quick", "type": "http", **check}],
    }
    return parse_config(yaml.safe_dump(document)).checks[0]


def probe(check: Check, environ: dict[str, str] | None = None) -> Result:
    session = http_session(4)
    try:
        return run_check(
            check,
            AlertState(check.id),
            RunContext(
                "quick-test-0000",
                "quick",
                time.monotonic() + 30,
                session,
                Secrets.local(environ or {}),
                sleep=lambda _: None,
                open_http=aio_session,
            ),
        )
    finally:
        session.close()


@dataclass
class Case:
    name: str
    url: Callable[[Servers], str]
    options: dict[str, Any] = field(default_factory=dict)
    status: str = "up"
    error: str | None = None  # what the result's error must start with: its class, or all of it
    http_status: int | None = None


CASES = [
    Case("200 with the default condition", lambda s: f"{s.fake.url}/ok", http_status=200),
    Case(
        "404 fails the default [STATUS] < 400",
        lambda s: f"{s.fake.url}/missing",
        status="down",
        error="condition_failed: [STATUS] (404) < 400",
        http_status=404,
    ),
    Case(
        "404 is up when the conditions expect it",
        lambda s: f"{s.fake.url}/missing",
        {"conditions": ["[STATUS] == 404"]},
        http_status=404,
    ),
    Case(
        "500 is down",
        lambda s: f"{s.fake.url}/boom",
        {"conditions": ["[STATUS] == 200"]},
        status="down",
        error="condition_failed: [STATUS] (500) == 200",
        http_status=500,
    ),
    Case(
        "JSON body condition",
        lambda s: f"{s.fake.url}/ok",
        {"conditions": ["[BODY].status == ok", "len([BODY].items) == 2"]},
    ),
    Case(
        "JSON body condition that fails names the value",
        lambda s: f"{s.fake.url}/ok",
        {"conditions": ["[BODY].status == degraded"]},
        status="down",
        error="condition_failed: [BODY].status (ok) == degraded",
    ),
    Case(
        "invalid JSON under a [BODY].x condition",
        lambda s: f"{s.fake.url}/html",
        {"conditions": ["[BODY].x == 1"]},
        status="down",
        error="invalid_json",
    ),
    Case(
        "non-JSON body is fine without a JSON path",
        lambda s: f"{s.fake.url}/html",
        {"conditions": ["[BODY] == pat(*not json*)"]},
    ),
    Case(
        "[IP] is the peer address",
        lambda s: f"{s.fake.url}/ok",
        {"conditions": ["[IP] == 127.0.0.1"]},
    ),
    Case(
        "[IP] can fail",
        lambda s: f"{s.fake.url}/ok",
        {"conditions": ["[IP] == 10.9.8.7"]},
        status="down",
        error="condition_failed: [IP] (127.0.0.1) == 10.9.8.7",
    ),
    Case(
        "[CONNECTED] and [RESPONSE_TIME]",
        lambda s: f"{s.fake.url}/ok",
        {"conditions": ["[CONNECTED] == true", "[RESPONSE_TIME] < 2s"]},
    ),
    # A probe that waited for these servers instead of giving up would be "up": the held
    # answer is a 200 (30 s later), the trickled body a complete one (after 10 s).
    Case(
        "read timeout: accepted, not answered in time",
        lambda s: f"{s.held.url}/health",
        {"timeout": "500ms"},
        status="down",
        error="timeout: no answer within 0.5s (read)",
    ),
    Case(
        "body trickled past the timeout",
        lambda s: f"{s.trickling.url}/health",
        {"timeout": "500ms"},
        status="down",
        error="timeout: no complete answer within 0.5s (body)",
    ),
    Case(
        "connection refused",
        lambda s: f"http://127.0.0.1:{s.refused_port}/health",
        status="down",
        error="connection_refused",
    ),
    Case(
        "hung up without an answer",
        lambda s: f"{s.hangs_up.url}/health",
        status="down",
        error="connection_reset",
    ),
    Case(
        "DNS failure (.invalid never resolves)",
        lambda s: "http://healthwatch-probe-test.invalid/health",
        status="down",
        error="dns",
    ),
    Case(
        "body over 1 MiB",
        lambda s: f"{s.fake.url}/big",
        status="down",
        error="body_too_large",
        http_status=None,
    ),
    Case("body of exactly 1 MiB is read", lambda s: f"{s.fake.url}/exactly-1mib", http_status=200),
    Case(
        "a smaller max_body_bytes",
        lambda s: f"{s.fake.url}/ok",
        {"max_body_bytes": 10},
        status="down",
        error="body_too_large",
    ),
    Case(
        "redirect loop",
        lambda s: f"{s.fake.url}/loop",
        status="down",
        error="too_many_redirects",
    ),
    Case("redirect followed", lambda s: f"{s.fake.url}/moved", http_status=200),
    Case(
        "three redirects within max_redirects: 4",
        lambda s: f"{s.fake.url}/hops/3",
        {"max_redirects": 4},
    ),
    Case(
        "four redirects over max_redirects: 3",
        lambda s: f"{s.fake.url}/hops/3",
        {"max_redirects": 3},
        status="down",
        error="too_many_redirects",
    ),
    Case(
        "follow_redirects: false sees the 302 itself",
        lambda s: f"{s.fake.url}/loop",
        {"follow_redirects": False, "conditions": ["[STATUS] == 302"]},
        http_status=302,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_probe(case: Case, servers: Servers) -> None:
    # Given a check against one of the loopback servers
    check = make_check({"url": case.url(servers), **case.options})

    # When it runs once
    result = probe(check)

    # Then the verdict, the error class and the status code are as expected
    assert result.status == case.status, result
    if case.error is None:
        assert result.error is None, result.error
    else:
        assert result.error is not None and result.error.startswith(case.error), result.error
    if case.http_status is not None:
        assert result.http_status == case.http_status
    assert result.attempts == 1
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert result.target == case.url(servers)


def test_timeout_latency_reflects_the_time_waited(servers: Servers) -> None:
    result = probe(make_check({"url": f"{servers.held.url}/x", "timeout": "300ms"}))

    assert result.error is not None and result.error.startswith("timeout")
    assert result.latency_ms is not None and 280 <= result.latency_ms < 1500


def test_latency_is_measured_around_the_request(servers: Servers) -> None:
    result = probe(make_check({"url": f"{servers.fake.url}/slow"}))

    assert result.status == "up"
    assert result.latency_ms is not None and 200 <= result.latency_ms < 1500


def test_body_too_large_says_how_much_was_read(servers: Servers) -> None:
    result = probe(make_check({"url": f"{servers.fake.url}/big"}))

    assert result.error is not None
    assert "1048576" in result.error


def test_post_json_body_and_headers_are_sent_as_configured(servers: Servers) -> None:
    check = make_check(
        {
            "url": f"{servers.fake.url}/echo",
            "method": "post",
            "headers": {"X-Probe": "yes", "Accept": "application/json"},
            "body": {"query": "{ shop { name } }", "n": 1},
        }
    )

    result = probe(check)

    assert result.status == "up", result.error
    (req,) = servers.fake.requests_to("/echo")
    assert req.method == "POST"
    assert req.header("X-Probe") == "yes"
    assert req.header("Accept") == "application/json"
    assert req.header("Content-Type") == "application/json"
    assert req.json() == {"query": "{ shop { name } }", "n": 1}
    assert (req.header("User-Agent") or "").startswith("healthwatch/")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_string_body_is_sent_verbatim(servers: Servers, method: str) -> None:
    check = make_check({"url": f"{servers.fake.url}/echo", "method": method, "body": "ping=1&x=2"})

    result = probe(check)

    assert result.status == "up", result.error
    (req,) = servers.fake.requests_to("/echo")
    assert req.method == method
    assert req.body == b"ping=1&x=2"


def test_head_reads_no_body(servers: Servers) -> None:
    result = probe(make_check({"url": f"{servers.fake.url}/echo", "method": "HEAD"}))

    assert result.status == "up", result.error
    assert [r.method for r in servers.fake.requests_to("/echo")] == ["HEAD"]


def test_post_then_303_is_followed_with_a_get_without_the_body(servers: Servers) -> None:
    check = make_check(
        {
            "url": f"{servers.fake.url}/form",
            "method": "POST",
            "body": {"a": 1},
            "conditions": ["[STATUS] == 200", "[BODY].method == GET"],
        }
    )

    result = probe(check)

    assert result.status == "up", result.error
    assert [r.method for r in servers.fake.requests] == ["POST", "GET"]
    (after,) = servers.fake.requests_to("/after-post")
    assert after.body == b""
    assert after.header("Content-Type") is None
    assert result.details.get("url_final") == f"{servers.fake.url}/after-post"


def test_307_repeats_the_method_and_the_body(servers: Servers) -> None:
    check = make_check(
        {"url": f"{servers.fake.url}/temporary", "method": "POST", "body": "keep me"}
    )

    result = probe(check)

    assert result.status == "up", result.error
    (echo,) = servers.fake.requests_to("/echo")
    assert echo.method == "POST"
    assert echo.body == b"keep me"


def test_redirect_loop_stops_after_max_redirects(servers: Servers) -> None:
    result = probe(make_check({"url": f"{servers.fake.url}/loop", "max_redirects": 2}))

    assert result.error is not None and result.error.startswith("too_many_redirects")
    assert len(servers.fake.requests_to("/loop")) == 3  # the request and two redirects


def test_env_reference_in_a_header_is_sent_and_never_stored(
    servers: Servers, tmp_path: Path
) -> None:
    # Given a check whose header comes from the environment, against a server that echoes
    # it back, and a condition whose failure would quote the body
    document = {
        "defaults": {"retry_interval": 0},
        "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
        "checks": [
            {
                "id": "echo",
                "tier": "quick",
                "url": f"{servers.fake.url}/whoami",
                "headers": {"Authorization": "Bearer ${env:HW_TEST_TOKEN}"},
                "conditions": ["[BODY] == nothing-like-this"],
            }
        ],
    }
    config = parse_config(yaml.safe_dump(document))
    store = LocalStore(tmp_path)
    session = http_session(2)

    # When the tier runs
    run = run_tier(
        config,
        "quick",
        Ports(states=store, results=store),
        session=session,
        open_http=aio_session,
        secrets=Secrets.local({"HW_TEST_TOKEN": TOKEN}),
    )
    session.close()

    # Then the server saw the resolved value
    (req,) = servers.fake.requests_to("/whoami")
    assert req.header("Authorization") == f"Bearer {TOKEN}"
    # and neither the result, the alert, nor anything stored carries it
    (result,) = run.results
    assert result.status == "down"
    assert result.error == "condition_failed: [BODY] (Bearer ***) == nothing-like-this"
    assert TOKEN not in json.dumps(run.to_dict())
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(errors="replace"), path


def test_credentials_are_not_forwarded_to_another_origin(servers: Servers) -> None:
    check = make_check(
        {
            "url": f"{servers.fake.url}/elsewhere",
            "headers": {
                "Authorization": "Bearer ${env:HW_TEST_TOKEN}",
                "X-Api-Key": "${env:HW_TEST_TOKEN}",
                "X-Plain": "kept",
            },
        }
    )

    result = probe(check, {"HW_TEST_TOKEN": TOKEN})

    assert result.status == "up", result.error
    (first,) = servers.fake.requests_to("/elsewhere")
    assert first.header("Authorization") == f"Bearer {TOKEN}"
    (landing,) = servers.other.requests_to("/landing")
    assert landing.header("Authorization") is None
    assert landing.header("X-Api-Key") is None
    assert landing.header("X-Plain") == "kept"


def test_cookies_do_not_leak_between_checks_on_the_shared_session(
    servers: Servers, tmp_path: Path
) -> None:
    # Given two checks of one run, one at a time on the run's one aiohttp session: the
    # first is answered with a Set-Cookie
    document = {
        "defaults": {"retry_interval": 0, "timeout": "2s", "concurrency": 1},
        "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
        "checks": [
            {"id": "sets", "tier": "quick", "url": f"{servers.fake.url}/set-cookie"},
            {"id": "echoes", "tier": "quick", "url": f"{servers.fake.url}/echo"},
        ],
    }
    session = http_session(2)
    try:
        run = run_tier(
            parse_config(yaml.safe_dump(document)),
            "quick",
            Ports(states=LocalStore(tmp_path)),
            session=session,
            open_http=aio_session,
            secrets=Secrets.local({}),
        )
    finally:
        session.close()

    # Then the second check sent no cookie
    assert [r.status for r in run.results] == ["up", "up"]
    (set_cookie,) = servers.fake.requests_to("/set-cookie")
    (echo,) = servers.fake.requests_to("/echo")
    assert echo.header("Cookie") is None


def test_dns_failure_is_the_resolvers_answer_here() -> None:
    # The .invalid TLD (RFC 6761) must fail locally, as a name that does not resolve: if the
    # lookup hung instead, the DNS case above would be moot. The join is a hang guard, not a
    # performance assertion: a lookup still pending after 10 s is broken, however loaded the box.
    raised: list[Exception] = []

    def lookup() -> None:
        try:
            requests.get("http://healthwatch-probe-test.invalid/", timeout=2)
        except Exception as exc:
            raised.append(exc)

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout=10)

    assert not thread.is_alive(), "resolving a .invalid name hung"
    assert len(raised) == 1, "a .invalid name resolved"
    assert isinstance(raised[0], requests.exceptions.ConnectionError), raised[0]
    assert classify(raised[0], 2)[0] == "dns", raised[0]


# ---------------------------------------------------------------------- TLS

TLS_SERVERS: dict[str, dict[str, Any]] = {  # name -> TlsServer(...) arguments
    "valid": {"days_valid": 30},
    "self-signed": {"self_signed": True},
    "expired": {"expired": True},
    "other-host": {"hostname": "other.example"},
    "one-day-left": {"days_valid": 1},
    "ten-days-left": {"days_valid": 10},
}


@pytest.fixture(scope="module")
def tls() -> Iterator[dict[str, Any]]:
    """One HTTPS server per kind of certificate, for the whole module."""
    from tests.fakes.tls import TlsServer

    started = {name: TlsServer(**args).start() for name, args in TLS_SERVERS.items()}
    for server in started.values():
        server.route("GET", "/health", Response(200, {"status": "ok"}))
    yield started
    # Each stop waits out the serving loop's poll interval: stop them all at once.
    stoppers = [threading.Thread(target=server.stop) for server in started.values()]
    for thread in stoppers:
        thread.start()
    for thread in stoppers:
        thread.join()


@dataclass
class TlsCase:
    name: str
    server: str  # a key of TLS_SERVERS
    options: dict[str, Any]  # check options; "CA" as a value stands for the server's ca_file
    status: str
    error: str | None = None


EXPIRY = ["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h"]
TLS_CASES = [
    TlsCase("unknown CA with verification on", "valid", {}, "down", "tls: unknown certificate"),
    TlsCase("the test CA as ca_bundle", "valid", {"ca_bundle": "CA"}, "up"),
    TlsCase("self-signed, even with the CA", "self-signed", {"ca_bundle": "CA"}, "down", "tls"),
    TlsCase("self-signed with insecure: true", "self-signed", {"insecure": True}, "up"),
    TlsCase("expired", "expired", {"ca_bundle": "CA"}, "down", "tls: certificate expired"),
    TlsCase(
        "issued for another host name",
        "other-host",
        {"ca_bundle": "CA"},
        "down",
        "tls: hostname mismatch",
    ),
    TlsCase("30 days left passes > 48h", "valid", {"ca_bundle": "CA", "conditions": EXPIRY}, "up"),
    TlsCase(
        "1 day left fails > 48h",
        "one-day-left",
        {"ca_bundle": "CA", "conditions": EXPIRY},
        "down",
        "condition_failed: [CERTIFICATE_EXPIRATION]",
    ),
]


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("case", TLS_CASES, ids=[c.name for c in TLS_CASES])
def test_tls(case: TlsCase, tls: dict[str, Any]) -> None:
    # Given an HTTPS server with the certificate the case describes
    server = tls[case.server]
    options = {k: server.ca_file if v == "CA" else v for k, v in case.options.items()}
    check = make_check({"url": f"{server.url}/health", **options})

    # When the check runs
    result = probe(check)

    # Then it is up, or down with the TLS error or the failed expiry condition
    assert result.status == case.status, result.error
    if case.error is None:
        assert result.error is None
        assert result.http_status == 200
    else:
        assert result.error is not None and result.error.startswith(case.error), result.error


def test_certificate_expiration_is_reported_in_the_details(tls: dict[str, Any]) -> None:
    server = tls["ten-days-left"]
    check = make_check(
        {
            "url": f"{server.url}/health",
            "ca_bundle": server.ca_file,
            "conditions": ["[CERTIFICATE_EXPIRATION] > 240h"],
        }
    )

    result = probe(check)

    assert result.status == "down"
    assert result.error is not None
    assert result.error.startswith("condition_failed: [CERTIFICATE_EXPIRATION]")
    certificate = result.details["certificate"]
    assert 9.5 <= certificate["days_left"] <= 10.0
    assert "healthwatch test CA" in certificate["issuer"]


@pytest.mark.parametrize("spelling", ["HTTP_PROXY", "http_proxy"])
def test_the_environment_proxy_is_used_and_no_proxy_bypasses_it(
    servers: Servers, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    # Given a proxy on loopback that answers every request itself, saying what it was asked
    asked: list[bytes] = []

    def proxy(conn, stopping):
        asked.append(raw.read_request_head(conn).split(b"\r\n", 1)[0])
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 18\r\nConnection: close\r\n\r\n")
        conn.sendall(b'{"status":"proxy"}')
        conn.close()

    target = "http://target.invalid:8080/health"  # resolvable only by the proxy
    with raw.RawServer(proxy) as server:
        for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(spelling, server.url)

        # When a check of a host only the proxy can reach runs
        through = probe(make_check({"url": target, "conditions": ["[BODY].status == proxy"]}))

        # Then it went through the proxy, in absolute form
        assert through.status == "up", through.error
        assert asked == [b"GET http://target.invalid:8080/health HTTP/1.1"]

        # And a host NO_PROXY names goes direct
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        direct = probe(make_check({"url": f"{servers.fake.url}/ok"}))
        assert direct.status == "up", direct.error
        assert len(asked) == 1
