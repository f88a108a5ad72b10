"""A tiny HTTP server on 127.0.0.1 for tests: routes, recorded requests, start/stop."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, dict | list):
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
            return json.dumps(body).encode(), headers
        if isinstance(body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return body.encode(), headers
        return body or b"", headers


Handler = Callable[[Request], Response]


def not_found(req: Request) -> Response:
    """What a request nothing routes gets by default."""
    return Response(404, {"error": "not found"})


class FakeServer:
    """Routes are (METHOD, path) -> handler; unmatched requests get the `fallback` handler.

    Use as a context manager (or start()/stop()) so the test that starts it stops it.
    """

    def __init__(self, fallback: Handler | None = None) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self.fallback = fallback or not_found
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, path: str, handler: Handler | Response) -> None:
        self.routes[(method.upper(), path)] = (
            handler if callable(handler) else (lambda req, r=handler: r)
        )

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    dict(self.headers.items()),
                    body,
                )
                with server._lock:
                    server.requests.append(req)
                handler = server.routes.get((self.command, parts.path), server.fallback)
                resp = handler(req)
                if resp.delay:
                    import time

                    time.sleep(resp.delay)
                payload, headers = resp.encoded()
                self.send_response(resp.status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]


class VendorFake:
    """A fake vendor on a `FakeServer`: its `_handle` answers every request no route takes.

    Use as a context manager (or start()/stop()). Given a running `server`, the fake takes
    it over instead of starting its own (a module-scoped server keeps a test module fast:
    stopping one takes half a second), and leaves it running.
    """

    def __init__(self, server: FakeServer | None = None) -> None:
        self._owns_server = server is None
        self.server = server or FakeServer()
        self.server.fallback = self._handle
        self.server.requests.clear()

    def start(self) -> Self:
        if self._owns_server:
            self.server.start()
        return self

    def stop(self) -> None:
        if self._owns_server:
            self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def requests_to(self, path: str) -> list[Request]:
        return self.server.requests_to(path)

    def _handle(self, req: Request) -> Response:
        return not_found(req)


class WebhookFake(VendorFake):
    """A chat webhook at `webhook_url`: `messages` holds every payload it would have posted.

    `received` holds every payload that decoded, accepted or not; `_scripted` answers the
    next requests instead (see the subclasses' `rate_limit_next` and `fail_next`).
    """

    hook_path = ""  # where the webhook listens, as the vendor writes it

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.received: list[Any] = []
        self._scripted: list[Response] = []
        self._lock = threading.Lock()

    def reset(self) -> Self:
        """Forget what was received and scripted, so one running fake can serve many tests."""
        with self._lock:
            self._scripted.clear()
            self.messages.clear()
            self.received.clear()
            self.server.requests.clear()
        return self

    @property
    def webhook_url(self) -> str:
        return self.server.url + self.hook_path

    def url_for(self, path: str) -> str:
        return self.server.url + path

    def _next_scripted(self) -> Response | None:
        with self._lock:
            return self._scripted.pop(0) if self._scripted else None
