"""`http`: one request, bounded redirects and body, latency measured around it."""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import ssl
import sys
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

from healthwatch.errors import ErrorKind, ProbeError, error_text
from healthwatch.probes import Category, Observation, ProbeContext, options
from healthwatch.records import Field, field_validator
from healthwatch.secrets import has_reference
from healthwatch.urls import http_url, proxy_for

if TYPE_CHECKING:
    import aiohttp
    import requests

    from healthwatch.config import Check

CATEGORY = Category.SERVICE

MiB = 1024 * 1024
DEFAULT_CONDITIONS = ("[STATUS] < 400",)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Past the client's own limits (which name the phase that ran out), the whole attempt's.
BACKSTOP_S = 0.05


@options
class Options:
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


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    import aiohttp

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
    tls = _tls_setting(opts)
    uses = check.placeholders
    session = ctx.http()

    obs = Observation(default_conditions=DEFAULT_CONDITIONS)
    method = opts.method
    start = time.perf_counter()
    deadline = start + ctx.timeout  # one budget for every hop, connect, headers and body
    phase = "read"
    try:
        # The client's own limits fire first and name the phase; this one is the backstop.
        async with asyncio.timeout(ctx.timeout + BACKSTOP_S):
            for hop in range(opts.max_redirects + 1):
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise ProbeError(
                        ErrorKind.TIMEOUT, f"no complete answer within {ctx.timeout:g}s"
                    )
                phase = "read"
                resp = await session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    proxy=proxy_for(url, ctx.proxy_env),
                    ssl=tls,
                    timeout=aiohttp.ClientTimeout(total=None, connect=left, sock_read=left),
                )
                redirect = resp.status in REDIRECT_STATUSES and "Location" in resp.headers
                if not (redirect and opts.follow_redirects):
                    break
                resp.release()
                if hop == opts.max_redirects:
                    raise ProbeError(
                        "too_many_redirects", f"more than {opts.max_redirects} redirects"
                    )
                next_url = urljoin(url, resp.headers["Location"])
                if not _same_origin(url, next_url):
                    headers = _without_credentials(headers, opts.headers)
                url = next_url
                if resp.status in (301, 302, 303) and method not in ("GET", "HEAD"):
                    method, data = "GET", None
                    headers.pop("Content-Type", None)
            obs.ip = _peer_ip(resp)
            phase = "body"
            body = await _read_capped(resp, opts.max_body_bytes)
    except ProbeError:
        obs.latency_ms = _ms(start)
        raise
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        obs.latency_ms = _ms(start)
        raise ProbeError(*classify_aio(exc, ctx.timeout, phase)) from None
    obs.latency_ms = _ms(start)
    obs.connected = True
    obs.http_status = resp.status
    obs.body = body
    if url != first_url:  # where the redirects ended
        obs.details["url_final"] = _strip_query(url)
    if "BODY" in uses and _wants_json(check) and body:
        obs.error = _json_problem(body)
    if "CERTIFICATE_EXPIRATION" in uses and urlsplit(url).scheme == "https":
        await asyncio.to_thread(_certificate, obs, url, opts, ctx)
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
    return _reads_json(tuple(c.raw for c in (*check.parsed_conditions, *check.parsed_warnings)))


@functools.lru_cache(maxsize=1024)
def _reads_json(texts: tuple[str, ...]) -> bool:
    return any("[BODY]." in t.upper() or "[BODY][" in t.upper() for t in texts)


def _json_problem(body: bytes) -> str | None:
    """Why `body` cannot be read as JSON, or None when it can."""
    try:
        json.loads(body)
    except RecursionError:
        return error_text(
            ErrorKind.INVALID_JSON,
            f"body is JSON nested {nesting_depth(body):,} levels deep; "
            f"at most about {sys.getrecursionlimit() - 50} can be read",
        )
    except json.JSONDecodeError as exc:
        return error_text(ErrorKind.INVALID_JSON, f"body is not JSON ({exc.msg} at char {exc.pos})")
    except ValueError:
        return error_text(ErrorKind.INVALID_JSON, "body is not JSON (not UTF-8 text)")
    return None


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """At most `cap` bytes of the (decoded) body; the caller's timeout bounds the time.

    Read as it arrives, so a gzip bomb is stopped after `cap` decoded bytes, not inflated.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await resp.content.readany():
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                raise ProbeError(
                    "body_too_large", f"response body over {cap} bytes; read the first {cap}"
                )
    except BaseException:
        resp.close()  # a half-read connection is never reused
        raise
    resp.release()
    return b"".join(chunks)


def _peer_ip(resp: aiohttp.ClientResponse) -> str | None:
    peer = getattr(resp, "peer", None)
    return str(peer[0]) if peer else None


@functools.cache
def response_class() -> type[aiohttp.ClientResponse]:
    """aiohttp's response, noting the peer's address as it starts: a short answer is read
    whole and its connection let go before the probe can ask the socket ([IP])."""
    import aiohttp

    class PeerResponse(aiohttp.ClientResponse):
        peer: tuple[Any, ...] | None = None

        async def start(self, connection: Any) -> PeerResponse:
            transport = connection.transport
            self.peer = transport.get_extra_info("peername") if transport is not None else None
            await super().start(connection)
            return self

    return PeerResponse


@functools.lru_cache(maxsize=32)
def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle)


def _tls_setting(opts: Options) -> ssl.SSLContext | bool:
    """aiohttp's `ssl=`: False skips verification; a context trusts `ca_bundle` alone."""
    if opts.insecure:
        return False
    return _ssl_context(opts.ca_bundle) if opts.ca_bundle else True


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
    import requests  # the synchronous vendor probes' client

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


def classify_aio(exc: BaseException, timeout: float, phase: str) -> tuple[str, str]:
    """Short error class and message for an aiohttp failure; never the URL nor the body.

    `phase`: "read" until the answer's head arrived, "body" while reading the body.
    """
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ErrorKind.TIMEOUT, f"no answer within {timeout:g}s (connect)"
    if isinstance(exc, TimeoutError):  # aiohttp's socket timeouts are TimeoutErrors too
        if phase == "body":
            return ErrorKind.TIMEOUT, f"no complete answer within {timeout:g}s (body)"
        return ErrorKind.TIMEOUT, f"no answer within {timeout:g}s (read)"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ErrorKind.DNS, "host name could not be resolved"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ErrorKind.TLS, _tls_reason(exc.certificate_error)
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return ErrorKind.TLS, _tls_reason(exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = exc.os_error.errno
        if code == errno.ECONNREFUSED:
            return ErrorKind.CONNECTION_REFUSED, "connection refused"
        if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return ErrorKind.UNREACHABLE, "network unreachable"
        if code in (errno.ECONNRESET, errno.EPIPE):
            return ErrorKind.CONNECTION_RESET, "connection closed before a complete answer"
        return ErrorKind.CONNECTION_ERROR, type(exc.os_error).__name__
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ErrorKind.CONNECTION_RESET, "connection closed before a complete answer"
    if isinstance(exc, aiohttp.ClientPayloadError):
        text = str(exc)
        if "content-encoding" in text.lower():
            return ErrorKind.DECODE_ERROR, "body does not match its Content-Encoding"
        if "ContentLengthError" in text:
            return ErrorKind.PROTOCOL_ERROR, protocol_problem("IncompleteRead")
        return ErrorKind.PROTOCOL_ERROR, (
            "the answer is not valid HTTP: a bad or cut-short chunk in a chunked body"
        )
    if isinstance(exc, aiohttp.ClientResponseError):  # the parser refused the answer's head
        return ErrorKind.PROTOCOL_ERROR, _parser_problem(exc.message)
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        return ErrorKind.INVALID_URL, type(exc).__name__
    if isinstance(exc, aiohttp.ClientOSError | OSError):
        code = exc.errno
        if code in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
            return ErrorKind.CONNECTION_RESET, "connection closed before a complete answer"
        return ErrorKind.CONNECTION_ERROR, type(exc).__name__
    return ErrorKind.HTTP_ERROR, type(exc).__name__


# aiohttp's parser messages -> what was wrong (its messages may quote the answer: never kept)
_PARSER_PROBLEMS = (
    ("too many headers", "too many response headers"),
    ("got more than", "a status or header line too long"),
    ("status line", "not an HTTP status line"),
    ("response status", "not an HTTP status line"),
    ("http version", "not an HTTP status line"),
    ("chunk", "bad chunk size in a chunked body"),
    ("header", "an invalid response header"),
)


def _parser_problem(message: str) -> str:
    lowered = message.lower()
    for needle, problem in _PARSER_PROBLEMS:
        if needle in lowered:
            return f"the answer is not valid HTTP: {problem}"
    return "the answer is not valid HTTP"


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


def _tls_reason(exc: BaseException) -> str:
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
