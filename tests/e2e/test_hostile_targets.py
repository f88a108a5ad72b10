"""Hostile targets: raw-socket servers on 127.0.0.1 that misbehave as real ones do.

All of them are checks of one tier, run once through the engine: each must come back
`down` (or, for the well-formed ones, `up`) with the right error class, every check must
be present, and no check may still be running at the tier's deadline.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from healthwatch.engine import Ports, run_tier
from healthwatch.runtime.clients import aio_session, http_session
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets
from healthwatch.storage.local import LocalStore

from tests.fakes.raw import RawServer, closed_port, never_answer, read_request_head, trickle
from tests.fakes.tls import TlsServer


def answer(raw: bytes, then: Callable[[socket.socket], None] | None = None):
    def behaviour(conn: socket.socket, stopping: threading.Event) -> None:
        read_request_head(conn)
        conn.sendall(raw)
        if then is not None:
            then(conn)

    return behaviour


def reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def hang(conn: socket.socket) -> None:
    threading.Event().wait(30)


def http(status: str, headers: list[str], body: bytes, version: str = "HTTP/1.1") -> bytes:
    head = f"{version} {status}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode() + body


JSON_OK = b'{"status":"ok"}'
DEEP = b"[" * 100_000 + b"]" * 100_000
BOMB = gzip.compress(b"\0" * (200 << 20))  # 200 MiB of zeros in about 200 KB

# name -> (behaviour, check options beyond url, expected status, expected error class)
TARGETS: dict[str, tuple[object, dict, str, str | None]] = {
    "slow answer": (
        answer(b"", then=hang),
        {},
        "down",
        "timeout",
    ),
    "hangs after the headers": (
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", then=hang),
        {},
        "down",
        "timeout",
    ),
    "trickles the body": (trickle(b".", 0.2, 50), {}, "down", "timeout"),
    "huge body": (
        answer(http("200 OK", [f"Content-Length: {8 << 20}"], b"x" * (8 << 20))),
        {},
        "down",
        "body_too_large",
    ),
    "gzip bomb": (
        answer(http("200 OK", ["Content-Encoding: gzip", f"Content-Length: {len(BOMB)}"], BOMB)),
        {},
        "down",
        "body_too_large",
    ),
    "garbage instead of HTTP": (
        answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        {},
        "down",
        "protocol_error",
    ),
    "closes without answering": (answer(b""), {}, "down", "connection_reset"),
    "resets mid-body": (
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10, then=reset),
        {},
        "down",
        None,  # a reset mid-body: connection_reset or protocol_error (short body), never a crash
    ),
    "redirect loop": (
        # The raw server hangs up after each answer, and says so: the client must not reuse it.
        answer(
            http("302 Found", ["Location: /again", "Content-Length: 0", "Connection: close"], b"")
        ),
        {"max_redirects": 3},
        "down",
        "too_many_redirects",
    ),
    "bad chunk size": (
        answer(http("200 OK", ["Transfer-Encoding: chunked"], b"zz\r\nhello\r\n0\r\n\r\n")),
        {},
        "down",
        "protocol_error",
    ),
    "short body": (
        answer(http("200 OK", ["Content-Length: 100"], b"only this")),
        {},
        "down",
        "protocol_error",
    ),
    "invalid UTF-8 JSON": (
        answer(
            http("200 OK", ["Content-Type: application/json", "Content-Length: 4"], b'"\xff"\n')
        ),
        {"conditions": ["[BODY].status == ok"]},
        "down",
        "invalid_json",
    ),
    "JSON 100,000 deep": (
        answer(
            http("200 OK", ["Content-Type: application/json", f"Content-Length: {len(DEEP)}"], DEEP)
        ),
        {"conditions": ["[BODY].status == ok"]},
        "down",
        "invalid_json",
    ),
    "10,000 headers": (
        answer(
            http("200 OK", [f"X-H{i}: v" for i in range(10_000)] + ["Content-Length: 2"], b"ok")
        ),
        {},
        "down",
        "protocol_error",
    ),
    "HTTP/1.0 that closes after answering": (
        answer(http("200 OK", ["Content-Type: application/json"], JSON_OK, "HTTP/1.0")),
        {"conditions": ["[STATUS] == 200", "[IP] == 127.0.0.1", "[BODY].status == ok"]},
        "up",
        None,
    ),
    "never answers": (never_answer, {}, "down", "timeout"),
}


@pytest.fixture
def servers() -> Iterator[dict[str, str]]:
    started = {name: RawServer(b).start() for name, (b, *_rest) in TARGETS.items()}  # type: ignore[arg-type]
    tls = TlsServer(self_signed=True)
    tls.start()
    try:
        urls = {name: s.url + "/health" for name, s in started.items()}
        urls["self-signed TLS"] = tls.url + "/health"
        urls["refused port"] = f"http://127.0.0.1:{closed_port()}/health"
        urls["unresolvable name"] = "http://no-such-host.invalid/health"
        yield urls
    finally:
        for s in started.values():
            s.stop()
        tls.stop()


EXTRA = {
    "self-signed TLS": ({}, "down", "tls"),
    "refused port": ({}, "down", "connection_refused"),
    "unresolvable name": ({}, "down", "dns"),
}


def test_every_hostile_target_is_a_result_with_its_error_class(servers, tmp_path):
    expected = {n: (o, s, e) for n, (_b, o, s, e) in TARGETS.items()} | EXTRA
    ids = {name: f"t{i:02d}" for i, name in enumerate(sorted(expected))}
    checks = [
        {"id": ids[name], "name": name, "tier": "quick", "url": servers[name], **opts}
        for name, (opts, _s, _e) in expected.items()
    ]
    doc = {
        "defaults": {"timeout": "2s", "retry_interval": 0, "failure_threshold": 1},
        "tiers": {"quick": {"schedule": "rate(15 minutes)", "deadline": "15s"}},
        "checks": checks,
    }
    config = parse_config(json.dumps(doc))
    store = LocalStore(tmp_path)
    run = run_tier(
        config,
        "quick",
        Ports(states=store, results=store),
        open_http=aio_session,
        session=http_session(32),
        secrets=Secrets.local({}),
    )
    by_name = {r.check_name: r for r in run.results}
    assert set(by_name) == set(expected)  # every check present
    wrong = []
    for name, (_opts, status, kind) in expected.items():
        r = by_name[name]
        got_kind = (r.error or "").split(":", 1)[0] or None
        if r.status != status or (kind is not None and got_kind != kind):
            wrong.append(f"{name}: {r.status} {r.error}")
        if r.status == "down" and not r.error:
            wrong.append(f"{name}: down without an error")
        if got_kind == "probe_error" or "still running at the tier deadline" in (r.error or ""):
            wrong.append(f"{name}: {r.error}")
    assert wrong == []
    assert run.duration_ms <= 15_000
