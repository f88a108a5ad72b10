"""The only place that builds clients: boto3 (one session per process) and the HTTP session."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from healthwatch.errors import ConfigError

if TYPE_CHECKING:
    import aiohttp
    import boto3
    import requests

HTTP_POOL = 64  # connections kept per host: matches the engine's thread count
# Headers an answer may have (http.client's limit): past it, the answer is refused.
MAX_RESPONSE_HEADERS = 100

# Every AWS call: bounded, so the worst case of a run can be written down (README, "Time
# budgets"). Standard retry mode retries throttling, 5xx and connection errors, with
# exponential backoff of at most 20 s between attempts (base 0.5 s: 0.5, 1 s here).
AWS_CONNECT_TIMEOUT_S = 2.0
AWS_READ_TIMEOUT_S = 5.0
AWS_ATTEMPTS = 3
AWS_CALL_WORST_CASE_S = AWS_ATTEMPTS * (AWS_CONNECT_TIMEOUT_S + AWS_READ_TIMEOUT_S) + 0.5 + 1.0
# The SnsNotifier on AWS makes one call (the client's own attempts retry it).
SNS_WORST_CASE_S = AWS_CALL_WORST_CASE_S


def http_session(workers: int = HTTP_POOL) -> requests.Session:
    """One session per container: its connection pool matches the worker count."""
    from http.cookiejar import DefaultCookiePolicy

    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    # No cookies: a check must not see what another check (or an earlier run) was given.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=workers, pool_maxsize=workers, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class LazySession:
    """A `requests.Session` built on first use (`http_session`): the http and vendor probes
    are on aiohttp, so a run that posts to no chat webhook and refreshes no Google token
    never imports requests. Stands in for the session it builds."""

    def __init__(self, workers: int = HTTP_POOL) -> None:
        self._workers = workers
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        with self._lock:
            if self._session is None:
                self._session = http_session(self._workers)
        return getattr(self._session, name)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def lazy_http_session(workers: int = HTTP_POOL) -> requests.Session:
    return cast("requests.Session", LazySession(workers))


def aio_session(limit: int) -> aiohttp.ClientSession:
    """The http probe's session for one run, made inside the run's event loop.

    At most `limit` connections (the run's concurrency), no cookies (a check must not see
    what another was given), and no client-wide timeout: each attempt sets its own. The
    probe picks each request's proxy (`probes.http.proxy_for`: HTTP(S)_PROXY, NO_PROXY).
    """
    import aiohttp

    from healthwatch.probes.http import response_class

    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, ttl_dns_cache=60)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None),
        max_headers=MAX_RESPONSE_HEADERS,
        auto_decompress=True,
        response_class=response_class(),
    )


_session: boto3.session.Session | None = None
_session_lock = threading.Lock()


def boto_session() -> boto3.session.Session:
    """One boto3 session per process: clients made from it share its loaded service models."""
    global _session
    with _session_lock:
        if _session is None:
            import boto3

            _session = boto3.session.Session()
        return _session


def client(
    service: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    read_timeout: float = AWS_READ_TIMEOUT_S,
    attempts: int = AWS_ATTEMPTS,
) -> Any:
    """A client with bounded timeouts and standard retries (throttling, 5xx, connection errors).

    The endpoint comes from the environment (`AWS_ENDPOINT_URL`), which is how tests and
    `make invoke-local` point every client at a local moto server; `endpoint_url` and
    `region` override it for one client (a probe region's Lambda).
    """
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import NoRegionError

    config = BotoConfig(
        connect_timeout=AWS_CONNECT_TIMEOUT_S,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": attempts},
        max_pool_connections=16,
        user_agent_extra="healthwatch",
    )
    try:
        return boto_session().client(  # type: ignore[call-overload]
            service, config=config, region_name=region, endpoint_url=endpoint_url
        )
    except NoRegionError:
        raise ConfigError(
            "environment", ["no AWS region: set AWS_REGION (or a region in your AWS profile)"]
        ) from None
