"""The one check of an http(s) URL a config may hold: scheme, host and port, no blanks."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_REFERENCE = re.compile(r"\$\{[^}]*\}")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$")


def http_url(value: str) -> str:
    """`value` if it is an http:// or https:// URL with a valid host and port; a reference
    (`${env:HOST}`) may stand for any part, and is checked as a placeholder."""
    probe = _REFERENCE.sub("x", value)
    if any(ch.isspace() for ch in probe):
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
