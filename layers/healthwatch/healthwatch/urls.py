"""URLs: the one check of an http(s) URL a config may hold (scheme, host and port, no
blanks), and which proxy a URL goes through."""

from __future__ import annotations

import functools
import os
import re
from urllib.parse import urlsplit

_REFERENCE = re.compile(r"\$\{[^}]*\}")
_SPACE = re.compile(r"\s")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$")


def http_url(value: str) -> str:
    """`value` if it is an http:// or https:// URL with a valid host and port; a reference
    (`${env:HOST}`) may stand for any part, and is checked as a placeholder."""
    probe = _REFERENCE.sub("x", value)
    if _SPACE.search(probe):
        raise ValueError(f"a URL cannot contain spaces: {value!r}")
    parts = urlsplit(probe)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    host = parts.netloc.rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if not host or not _HOST.match(host):
        raise ValueError(f"invalid host in {value!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"invalid port in {value!r} (1 to 65535)") from None
    if port == 0:
        raise ValueError(f"invalid port in {value!r} (1 to 65535)")
    return value


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
ProxyEnvironment = tuple[str | None, ...]


def proxy_environment() -> ProxyEnvironment:
    """HTTP(S)_PROXY, NO_PROXY and ALL_PROXY, either spelling (lower case first, as curl):
    read once per run, not once per request."""
    return tuple(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)


def proxy_for(url: str, environ: ProxyEnvironment) -> str | None:
    """The proxy `url` goes through under `environ`, as requests and curl decide it."""
    if not any(environ):
        return None
    parts = urlsplit(url)
    return _proxy(environ, parts.scheme, parts.hostname or "", parts.port)


@functools.lru_cache(maxsize=1024)
def _proxy(environ: ProxyEnvironment, scheme: str, host: str, port: int | None) -> str | None:
    from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

    http, https, no_proxy, every = environ
    proxy = (https if scheme == "https" else http) or every
    if not proxy:
        return None
    netloc = f"{host}:{port}" if port else host
    if no_proxy and proxy_bypass_environment(netloc, {"no": no_proxy}):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"
