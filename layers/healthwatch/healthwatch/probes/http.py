"""`http`: one request, bounded redirects and body, latency measured around it."""

from __future__ import annotations

import errno
import json
import socket
import sys
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from pydantic import BaseModel, ConfigDict, Field, field_validator

from healthwatch.errors import ErrorKind, ProbeError, error_text
from healthwatch.probes import Category, Observation, ProbeContext
from healthwatch.secrets import has_reference
from healthwatch.urls import http_url

if TYPE_CHECKING:
    from healthwatch.config import Check

CATEGORY = Category.SERVICE

MiB = 1024 * 1024
DEFAULT_CONDITIONS = ("[STATUS] < 400",)


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None
    follow_redirects: bool = True
    max_redirects: int = Field(10, ge=0, le=30)
    insecure: bool = False  # skip TLS verification (self-signed targets); off by default
    ca_bundle: str | None = None
    max_body_bytes: int = Field(MiB, ge=1)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)


def target(options: Options) -> str:
    return options.url


def probe(check: Check, ctx: ProbeContext) -> Observation:
    opts: Options = check.options
    url = first_url = ctx.secrets.resolve(opts.url)
    headers = {k: ctx.secrets.resolve(v) for k, v in opts.headers.items()}
    data: bytes | None = None
    if isinstance(opts.body, dict | list):
        data = json.dumps(ctx.secrets.resolve_obj(opts.body)).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(opts.body, str):
        data = ctx.secrets.resolve(opts.body).encode()
    headers.setdefault("User-Agent", "healthwatch/0.1 (+synthetic monitor)")
    verify: bool | str = False if opts.insecure else (opts.ca_bundle or True)
    uses = {p for c in (*check.parsed_conditions, *check.parsed_warnings) for p in c.placeholders}

    obs = Observation(default_conditions=DEFAULT_CONDITIONS)
    method = opts.method
    start = time.perf_counter()
    deadline = start + ctx.timeout  # one budget for every hop, connect, headers and body
    try:
        for hop in range(opts.max_redirects + 1):
            left = deadline - time.perf_counter()
            if left <= 0:
                raise ProbeError(ErrorKind.TIMEOUT, f"no complete answer within {ctx.timeout:g}s")
            resp = ctx.session.request(
                method,
                url,
                headers=headers,
                data=data,
                timeout=(left, left),
                allow_redirects=False,
                verify=verify,
                stream=True,
            )
            if resp.is_redirect and opts.follow_redirects:
                resp.close()
                if hop == opts.max_redirects:
                    raise ProbeError(
                        "too_many_redirects", f"more than {opts.max_redirects} redirects"
                    )
                next_url = urljoin(url, resp.headers["Location"])
                if not _same_origin(url, next_url):
                    headers = _without_credentials(headers, opts.headers)
                url = next_url
                if resp.status_code in (301, 302, 303) and method not in ("GET", "HEAD"):
                    method, data = "GET", None
                    headers.pop("Content-Type", None)
                continue
            break
        obs.ip = _peer_ip(resp)
        body = _read_capped(resp, opts.max_body_bytes, deadline, ctx.timeout)
    except ProbeError:
        obs.latency_ms = _ms(start)
        raise
    except requests.exceptions.RequestException as exc:
        obs.latency_ms = _ms(start)
        raise ProbeError(*classify(exc, ctx.timeout)) from None
    obs.latency_ms = _ms(start)
    obs.connected = True
    obs.http_status = resp.status_code
    obs.body = body
    if url != first_url:  # where the redirects ended
        obs.details["url_final"] = _strip_query(url)
    if "BODY" in uses and _wants_json(check) and body:
        try:
            json.loads(body)
        except RecursionError:
            obs.error = error_text(
                ErrorKind.INVALID_JSON,
                f"body is JSON nested {nesting_depth(body):,} levels deep; "
                f"at most about {sys.getrecursionlimit() - 50} can be read",
            )
        except json.JSONDecodeError as exc:
            obs.error = error_text(
                ErrorKind.INVALID_JSON, f"body is not JSON ({exc.msg} at char {exc.pos})"
            )
        except ValueError:
            obs.error = error_text(ErrorKind.INVALID_JSON, "body is not JSON (not UTF-8 text)")
    if "CERTIFICATE_EXPIRATION" in uses and urlsplit(url).scheme == "https":
        _certificate(obs, url, opts, ctx)
    return obs


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _certificate(obs: Observation, url: str, opts: Options, ctx: ProbeContext) -> None:
    from healthwatch.probes.tls import fetch_certificate  # only checks that ask pay for it

    parts = urlsplit(url)
    info = fetch_certificate(
        parts.hostname or "",
        parts.port or 443,
        timeout=ctx.timeout,
        ca_bundle=opts.ca_bundle,
        verify=not opts.insecure,
    )
    obs.certificate_expiration_ms = (info.not_after - ctx.now()).total_seconds() * 1000
    obs.details["certificate"] = {
        "not_after": info.not_after.isoformat(),
        "issuer": info.issuer,
        "days_left": round(info.days_left, 1),
    }


def _wants_json(check: Check) -> bool:
    """A condition reads a JSON path or counts JSON items: a non-JSON body is then an error."""
    texts = [c.raw.upper() for c in (*check.parsed_conditions, *check.parsed_warnings)]
    return any("[BODY]." in t or "[BODY][" in t for t in texts)


def _read_capped(resp: requests.Response, cap: int, deadline: float, timeout: float) -> bytes:
    """At most `cap` bytes of the body, finished by `deadline`.

    One socket read at a time, each allowed only what is left of the budget: a body
    trickled a byte at a time cannot hold the probe past its timeout.
    """
    sock = _socket(resp)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise ProbeError(
                    ErrorKind.TIMEOUT, f"no complete answer within {timeout:g}s (body)"
                )
            if sock is not None:
                sock.settimeout(left)
            chunk = resp.raw.read1(min(65536, cap + 1 - size), decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                raise ProbeError(
                    "body_too_large", f"response body over {cap} bytes; read the first {cap}"
                )
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        raise ProbeError(
            ErrorKind.TIMEOUT, f"no complete answer within {timeout:g}s (body)"
        ) from None
    except urllib3.exceptions.DecodeError:
        raise ProbeError(
            ErrorKind.DECODE_ERROR, "body does not match its Content-Encoding"
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        problem = protocol_problem(repr(exc))  # a bad chunk, a short body: not a reset
        if problem and getattr(resp.raw, "chunked", False) and "IncompleteRead" in repr(exc):
            problem = "the answer is not valid HTTP: a bad or cut-short chunk in a chunked body"
        if problem:
            raise ProbeError(ErrorKind.PROTOCOL_ERROR, problem) from None
        raise ProbeError(
            ErrorKind.CONNECTION_RESET, "connection closed before a complete answer"
        ) from None
    finally:
        resp.close()
    return b"".join(chunks)


def _socket(resp: requests.Response) -> socket.socket | None:
    # urllib3 2: the live connection while streaming (None once released)
    sock = getattr(getattr(resp.raw, "_connection", None), "sock", None)
    if not isinstance(sock, socket.socket):
        # A server that closes after answering (HTTP/1.0, `Connection: close`): http.client
        # let go of the connection's socket, but the response still reads from it.
        reader = getattr(getattr(resp.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _peer_ip(resp: requests.Response) -> str | None:
    sock = _socket(resp)
    try:
        return None if sock is None else str(sock.getpeername()[0])
    except OSError:
        return None


# Sent only to the origin they were configured for (requests strips Authorization alike).
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _same_origin(old: str, new: str) -> bool:
    a, b = urlsplit(old), urlsplit(new)
    if a.hostname != b.hostname:
        return False
    default = {"http": 80, "https": 443}
    a_port, b_port = a.port or default.get(a.scheme), b.port or default.get(b.scheme)
    if (a.scheme, a_port) == (b.scheme, b_port):
        return True
    return (a.scheme, a_port, b.scheme, b_port) == ("http", 80, "https", 443)


def _without_credentials(headers: dict[str, str], configured: dict[str, str]) -> dict[str, str]:
    """`headers` minus credentials: the usual ones and any whose value is a secret reference."""
    secret = {k.lower() for k, v in configured.items() if has_reference(v)}
    return {
        k: v
        for k, v in headers.items()
        if k.lower() not in _CREDENTIAL_HEADERS and k.lower() not in secret
    }


def classify(exc: requests.exceptions.RequestException, timeout: float) -> tuple[str, str]:
    """Short error class and message for a failed request; never includes the URL."""
    if isinstance(exc, requests.exceptions.Timeout):
        phase = "connect" if isinstance(exc, requests.exceptions.ConnectTimeout) else "read"
        return ErrorKind.TIMEOUT, f"no answer within {timeout:g}s ({phase})"
    if isinstance(exc, requests.exceptions.SSLError):
        return ErrorKind.TLS, _tls_reason(exc)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return ErrorKind.TOO_MANY_REDIRECTS, "redirect limit reached"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return ErrorKind.INVALID_URL, type(exc).__name__
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return ErrorKind.PROTOCOL_ERROR, protocol_problem(repr(exc))
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc)
        if "RemoteDisconnected" not in text and (problem := protocol_problem(text)):
            return ErrorKind.PROTOCOL_ERROR, problem
        if (
            "NameResolutionError" in text
            or "Name or service not known" in text
            or "getaddrinfo" in text
        ):
            return ErrorKind.DNS, "host name could not be resolved"
        if "Connection refused" in text or f"[Errno {errno.ECONNREFUSED}]" in text:
            return ErrorKind.CONNECTION_REFUSED, "connection refused"
        if "RemoteDisconnected" in text or "Connection aborted" in text:
            return ErrorKind.CONNECTION_RESET, "connection closed before a complete answer"
        if "Network is unreachable" in text or "No route to host" in text:
            return ErrorKind.UNREACHABLE, "network unreachable"
        return ErrorKind.CONNECTION_ERROR, type(exc).__name__
    return ErrorKind.HTTP_ERROR, type(exc).__name__


_PROTOCOL_PROBLEMS = (
    ("got more than", "too many response headers"),
    ("LineTooLong", "a status or header line too long"),
    ("InvalidChunkLength", "bad chunk size in a chunked body"),
    ("InvalidHeader", "an invalid response header"),
    ("IncompleteRead", "the body ended before its Content-Length"),
    ("BadStatusLine", "not an HTTP status line"),
)


def protocol_problem(text: str) -> str:
    """What made an answer not valid HTTP, from the exception text ('' if it was not that)."""
    for needle, problem in _PROTOCOL_PROBLEMS:
        if needle in text:
            return f"the answer is not valid HTTP: {problem}"
    return ""


def _tls_reason(exc: Exception) -> str:
    text = str(exc)
    for needle, reason in (
        ("certificate has expired", "certificate expired"),
        ("Hostname mismatch", "hostname mismatch"),
        ("IP address mismatch", "hostname mismatch"),  # OpenSSL's words for an IP target
        ("self-signed", "self-signed certificate"),
        ("self signed", "self-signed certificate"),
        ("unable to get local issuer", "unknown certificate authority"),
        ("CERTIFICATE_VERIFY_FAILED", "certificate verification failed"),
        ("WRONG_VERSION_NUMBER", "server does not speak TLS"),
    ):
        if needle in text:
            return reason
    return "TLS handshake failed"


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
