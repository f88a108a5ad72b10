"""A fault-injecting HTTP proxy on 127.0.0.1 between boto3 and a moto server.

boto3 reaches it through `AWS_ENDPOINT_URL`; it forwards every request to moto unless a
rule matches the request's service and operation, and then answers as AWS would when it
is throttled or failing (DynamoDB's JSON errors, S3's XML `SlowDown`, SNS's XML
`Throttling`), answers a batch write with everything unprocessed, drops the connection,
holds it, or forwards the request and cuts the connection before the answer (the write
is committed, the caller never hears so).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DYNAMO_ERRORS = {
    "ProvisionedThroughputExceededException": 400,
    "ThrottlingException": 400,
    "InternalServerError": 500,
}


@dataclass
class Rule:
    service: str  # dynamodb, s3, sns, ...
    operation: str  # BatchWriteItem, PutObject, Publish, ... or "*"
    fault: str  # error | unprocessed | drop | hold | cut_after_commit
    times: int = 1_000_000  # how many matching requests it takes
    code: str = ""  # the AWS error code for `error`
    hold_s: float = 30.0

    def matches(self, service: str, operation: str) -> bool:
        return self.times > 0 and self.service == service and self.operation in ("*", operation)


class FaultProxy:
    """Use as a context manager; `url` is what AWS_ENDPOINT_URL should be."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.seen: Counter[str] = Counter()  # "service.Operation" -> requests
        self.faulted: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.release = threading.Event()  # ends every `hold`
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def add(self, *rules: Rule) -> None:
        with self._lock:
            self.rules.extend(rules)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
        self.release.set()
        self.release = threading.Event()

    # -- the proxy -------------------------------------------------------------------------

    def _rule_for(self, service: str, operation: str) -> Rule | None:
        with self._lock:
            self.seen[f"{service}.{operation}"] += 1
            for rule in self.rules:
                if rule.matches(service, operation):
                    rule.times -= 1
                    self.faulted[f"{service}.{operation}:{rule.fault}"] += 1
                    return rule
        return None

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        service, operation = identify(req.command, req.path, dict(req.headers), body)
        rule = self._rule_for(service, operation)
        if rule is None:
            self._forward(req, body)
            return
        if rule.fault == "error":
            status, headers, payload = aws_error(service, rule.code)
            self._answer(req, status, headers, payload)
        elif rule.fault == "unprocessed":
            self._answer(
                req, 200, {"Content-Type": "application/x-amz-json-1.0"}, unprocessed(body)
            )
        elif rule.fault == "drop":
            _close(req)
        elif rule.fault == "hold":
            self.release.wait(rule.hold_s)
            _close(req)
        elif rule.fault == "cut_after_commit":
            self._upstream(req, body)  # committed upstream; the caller never hears
            _close(req)
        else:
            raise ValueError(rule.fault)

    def _upstream(self, req: BaseHTTPRequestHandler, body: bytes) -> tuple[int, list, bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            headers = {k: v for k, v in req.headers.items() if k.lower() != "connection"}
            conn.request(req.command, req.path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _forward(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        status, headers, payload = self._upstream(req, body)
        skip = {"transfer-encoding", "connection", "content-length"}
        self._answer(req, status, {k: v for k, v in headers if k.lower() not in skip}, payload)

    @staticmethod
    def _answer(req: BaseHTTPRequestHandler, status: int, headers: dict, payload: bytes) -> None:
        req.send_response(status)
        for k, v in headers.items():
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(payload)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(payload)


def _close(req: BaseHTTPRequestHandler) -> None:
    req.close_connection = True
    with contextlib.suppress(OSError):
        req.connection.shutdown(socket.SHUT_RDWR)


_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def identify(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """(service, operation) of a signed AWS request."""
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    match = _SCOPE.search(auth)
    service = match.group(1) if match else "unknown"
    target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    if service == "s3":
        key = urlsplit(path).path.strip("/").count("/") >= 1
        return service, {
            ("PUT", True): "PutObject",
            ("GET", True): "GetObject",
        }.get((method, key), f"{method}Bucket")
    form = parse_qs(body.decode("utf-8", "replace"))
    return service, (form.get("Action") or ["unknown"])[0]


def aws_error(service: str, code: str) -> tuple[int, dict[str, str], bytes]:
    if service == "dynamodb":
        status = DYNAMO_ERRORS.get(code, 400)
        body = (
            f'{{"__type":"com.amazonaws.dynamodb.v20120810#{code}",'
            f'"message":"injected by the test proxy"}}'
        ).encode()
        return status, {"Content-Type": "application/x-amz-json-1.0"}, body
    if service == "s3":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code or 'SlowDown'}</Code>"
            "<Message>Please reduce your request rate.</Message></Error>"
        ).encode()
        return 503, {"Content-Type": "application/xml"}, body
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code or 'Throttling'}</Code><Message>Rate exceeded</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ).encode()
    return (400 if code in ("", "Throttling") else 500), {"Content-Type": "text/xml"}, body


def unprocessed(body: bytes) -> bytes:
    """BatchWriteItem's "200 with everything unprocessed"."""
    import json

    request = json.loads(body or b"{}")
    return json.dumps({"UnprocessedItems": request.get("RequestItems", {})}).encode()


def wait_until(predicate: Any, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False
