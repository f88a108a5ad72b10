"""What the vendor API probes share: option types, one timed request, the error wording.

Not a probe type: `known_types()` passes over modules whose name starts with `_`.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import requests
from pydantic import AfterValidator

from healthwatch.errors import ErrorKind, ProbeError, error_text
from healthwatch.probes import Observation, ProbeContext
from healthwatch.probes.http import classify
from healthwatch.secrets import REFERENCE
from healthwatch.urls import http_url

USER_AGENT = "healthwatch/0.1 (+synthetic monitor)"
TOKEN_OPTION = "the `token` option"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _base_url(value: str) -> str:
    return http_url(value).rstrip("/")


# A credential option (a secret reference, or a literal): anything but blank.
Credential = Annotated[str, AfterValidator(_not_blank)]
# An API root: http(s) with a host, kept without its trailing slash.
BaseUrl = Annotated[str, AfterValidator(_base_url)]


def json_headers(**extra: str) -> dict[str, str]:
    """Headers of a JSON API call: Accept, our User-Agent, then `extra` (the credential)."""
    return {"Accept": "application/json", "User-Agent": USER_AGENT, **extra}


def credential(ctx: ProbeContext, reference: str) -> str:
    """The resolved credential, stripped, and remembered so that no output shows it."""
    value = ctx.secrets.resolve(reference).strip()
    ctx.secrets.remember(value)
    return value


def timed_request(
    ctx: ProbeContext,
    url: str,
    headers: dict[str, str],
    *,
    method: str = "GET",
    json_body: Any = None,
    where: str | None = None,
) -> tuple[requests.Response, Observation]:
    """One call and the `Observation` of its answer (latency, status, connected).

    Redirects are not followed: the credential header would go to wherever they point.
    A failure to get an answer raises `ProbeError`, its message ending `(where)` if given.
    """
    start = time.perf_counter()
    try:
        resp = ctx.session.request(
            method, url, headers=headers, json=json_body, timeout=ctx.timeout, allow_redirects=False
        )
    except requests.exceptions.RequestException as exc:
        kind, message = classify(exc, ctx.timeout)
        raise ProbeError(kind, f"{message} ({where})" if where else message) from None
    return resp, Observation(
        latency_ms=ms_since(start), http_status=resp.status_code, connected=True
    )


def json_member(resp: requests.Response, key: str) -> dict[str, Any] | None:
    """The object at `key` of a JSON body (`{"error": {...}}`, `{"shop": {...}}`), or None."""
    try:
        member = json.loads(resp.content)[key]
    except (ValueError, KeyError, TypeError):
        return None
    return member if isinstance(member, dict) else None


def ms_since(start: float) -> float:
    """Milliseconds since `start` (a `time.perf_counter()` reading), to a tenth."""
    return round((time.perf_counter() - start) * 1000, 1)


def references(text: str, missing: str = TOKEN_OPTION) -> str:
    """The secret references in `text` (what to update), or `missing` for a literal."""
    refs = [m.group(0) for m in REFERENCE.finditer(text)]
    return ", ".join(refs) if refs else missing


def suffix(message: str) -> str:
    """`: message` to end an error with what the vendor said, or nothing."""
    return f": {message}" if message else ""


def answered(vendor: str, resp: requests.Response, message: str) -> str:
    """The error for a status the probe has no better words for."""
    said = error_text(
        ErrorKind.HTTP_ERROR, f"{vendor} answered {resp.status_code} {resp.reason or ''}".rstrip()
    )
    return said + suffix(message)


def redirected(status: int, check: str = "`base_url`") -> str:
    """The error for a redirect, which the probe does not follow."""
    return error_text(
        ErrorKind.HTTP_ERROR, f"redirected ({status}) and not followed; check {check}"
    )
