"""A local server on 127.0.0.1 speaking Lambda's Invoke API, running real handler files.

`POST /2015-03-31/functions/{name}/invocations` with `X-Amz-Invocation-Type`
(`RequestResponse`, the default; `Event`; `DryRun`), answered as Lambda answers:
- RequestResponse: 200 with the handler's JSON; an unhandled exception is still 200, with
  `X-Amz-Function-Error: Unhandled` and `{"errorType", "errorMessage", "stackTrace"}`;
- Event: 202 with an empty body, the handler run afterwards; DryRun: 204;
- an unknown function: 404 `ResourceNotFoundException`; a throttled one: 429
  `TooManyRequestsException` (both with `x-amzn-ErrorType`, as the service sends them).

Each function runs in worker processes (`lambda_worker.py`) with its own environment, which
is how a test gives a "region" its own view of the network (`HTTP_PROXY` to a port nobody
listens on: it cannot reach the target) and its own AWS region. A worker is kept warm and
reused; an invocation that finds every worker busy starts another, as Lambda scales out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("lambda_worker.py")
PROBE_HANDLER = ROOT / "functions" / "probe" / "app.py"
RUN_TIER_HANDLER = ROOT / "functions" / "run_tier" / "app.py"
ACCOUNT = "123456789012"


@dataclass
class Function:
    """One function: its handler file, environment and how it misbehaves."""

    handler: Path
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 60.0
    delay_s: float = 0.0  # before the handler runs: a slow region
    hang: bool = False  # never answers (until the server stops): a region that is gone
    throttle: bool = False  # 429 TooManyRequestsException
    fail: str | None = None  # raise this in the function instead of running it


@dataclass
class Invocation:
    function: str
    kind: str
    event: Any
    status: int = 0
    answer: Any = None
    error: dict[str, Any] | None = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False)


class InitError(Exception):
    """The handler file failed at import (Lambda's `Runtime.InitError`)."""


class _Worker:
    def __init__(self, handler: Path, env: dict[str, str]) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - the log lives as long as the worker
        self.proc = subprocess.Popen(  # noqa: S603 - our own worker script
            [sys.executable, str(WORKER), str(handler)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if not first:
            self.proc.wait()
            self.log.seek(0)
            tail = self.log.read().decode("utf-8", "replace").strip().splitlines()[-1:]
            raise InitError(tail[0] if tail else f"exit {self.proc.returncode}")

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            return {"error": {"errorType": "Runtime.ExitError", "errorMessage": f"exit {code}"}}
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


class LambdaApi:
    """The Invoke API of one "region", serving `functions` by name (or ARN)."""

    def __init__(self, functions: dict[str, Function], region: str = "us-east-1") -> None:
        self.functions = functions
        self.region = region
        self.invocations: list[Invocation] = []
        self._idle: dict[str, list[_Worker]] = {}
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._background: list[threading.Thread] = []
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{name}"

    # -- running a handler ---------------------------------------------------------------

    def _env(self, fn: Function) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HTTP"))}
        base = {k: v for k, v in base.items() if k.lower() not in ("http_proxy", "https_proxy")}
        return {**base, "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region, **fn.env}

    def _take(self, name: str, fn: Function) -> _Worker:
        with self._lock:
            idle = self._idle.setdefault(name, [])
            if idle:
                return idle.pop()
        worker = _Worker(fn.handler, self._env(fn))
        with self._lock:
            self._all.append(worker)
        return worker

    def _run(self, name: str, fn: Function, call: Invocation) -> None:
        try:
            if fn.delay_s:
                self._stopping.wait(fn.delay_s)
            if fn.fail is not None:
                call.error = {"errorType": "RuntimeError", "errorMessage": fn.fail}
                return
            try:
                worker = self._take(name, fn)
            except InitError as exc:
                call.error = {"errorType": "Runtime.InitError", "errorMessage": str(exc)}
                return
            request = {
                "event": call.event,
                "request_id": str(uuid.uuid4()),
                "function_arn": self.arn(name),
                "timeout_ms": int(fn.timeout_s * 1000),
            }
            answer = worker.call(request)
            with self._lock:
                if worker.proc.poll() is None:
                    self._idle.setdefault(name, []).append(worker)
            call.answer, call.error = answer.get("ok"), answer.get("error")
        finally:
            call.finished.set()

    # -- the HTTP side ---------------------------------------------------------------------

    def _invoke(self, path: str, kind: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        prefix, suffix = "/2015-03-31/functions/", "/invocations"
        if not (path.startswith(prefix) and path.endswith(suffix)):
            return _error(404, "UnknownOperationException", "Unknown operation")
        name = unquote(path[len(prefix) : -len(suffix)])
        name = name.split("function:", 1)[-1].split(":", 1)[0]  # an ARN, maybe qualified
        fn = self.functions.get(name)
        if fn is None:
            return _error(404, "ResourceNotFoundException", f"Function not found: {self.arn(name)}")
        if kind not in ("RequestResponse", "Event", "DryRun"):
            return _error(400, "InvalidParameterValueException", f"bad type {kind}")
        if fn.throttle:
            return _error(429, "TooManyRequestsException", "Rate Exceeded.")
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body")
        call = Invocation(name, kind, event)
        with self._lock:
            self.invocations.append(call)
        if kind == "DryRun":
            return 204, {}, b""
        if fn.hang:
            self._stopping.wait(fn.timeout_s)
            call.finished.set()
            return 0, {}, b""  # the connection is dropped without an answer
        if kind == "Event":
            thread = threading.Thread(target=self._run, args=(name, fn, call), daemon=True)
            thread.start()
            self._background.append(thread)
            return 202, {}, b""
        self._run(name, fn, call)
        headers = {"X-Amz-Executed-Version": "$LATEST", "Content-Type": "application/json"}
        if call.error is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            return 200, headers, json.dumps(call.error).encode()
        return 200, headers, json.dumps(call.answer).encode()

    def start(self) -> LambdaApi:
        api = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
                status, headers, payload = api._invoke(self.path.split("?")[0], kind, body)
                if status == 0:
                    self.close_connection = True
                    return
                self.send_response(status)
                headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Until every invocation so far has finished (the Event ones run after their 202)."""
        end = time.monotonic() + timeout
        for call in list(self.invocations):
            if call.kind != "DryRun" and not call.finished.wait(max(0.0, end - time.monotonic())):
                raise TimeoutError(f"{call.function} still running after {timeout}s")

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for worker in self._all:
            worker.stop()

    def __enter__(self) -> LambdaApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = {"Type": "User", "message": message}
    if code == "TooManyRequestsException":
        body["Reason"] = "ReservedFunctionConcurrentInvocationLimitExceeded"
    headers = {"x-amzn-ErrorType": code, "Content-Type": "application/json"}
    return status, headers, json.dumps(body).encode()
