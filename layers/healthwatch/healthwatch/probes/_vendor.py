"""What the vendor API probes share: option types, one timed request, the error wording.

Not a probe type: `known_types()` passes over modules whose name starts with `_`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from healthwatch.errors import ErrorKind, ProbeError, error_text
from healthwatch.probes import Observation, ProbeContext
from healthwatch.probes.http import BACKSTOP_S
from healthwatch.records import AfterValidator
from healthwatch.secrets import REFERENCE
from healthwatch.urls import http_url, proxy_for

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


# A vendor's answer is read whole, up to this: more is not an API answer we judge.
MAX_ANSWER_BYTES = 4 * 1024 * 1024


@dataclass
class Answer:
    """A vendor API's answer, read whole: what the vendor probes judge."""

    status_code: int
    reason: str
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


async def timed_request(
    ctx: ProbeContext,
    url: str,
    headers: dict[str, str],
    *,
    method: str = "GET",
    json_body: Any = None,
    where: str | None = None,
    follow_redirects: bool = False,
) -> tuple[Answer, Observation]:
    """One call on the run's aiohttp session and the `Observation` of its answer.

    Redirects are not followed unless asked (a public page): the credential header would
    go wherever they point. A failure to get an answer raises `ProbeError`, its message
    ending `(where)` if given.
    """
    import aiohttp

    from healthwatch.probes.http import classify_aio

    start = time.perf_counter()
    phase = "read"
    try:
        async with asyncio.timeout(ctx.timeout + BACKSTOP_S):
            async with ctx.http().request(
                method,
                url,
                headers=headers,
                json=json_body,
                allow_redirects=follow_redirects,
                proxy=proxy_for(url, ctx.proxy_env),
                timeout=aiohttp.ClientTimeout(connect=ctx.timeout, sock_read=ctx.timeout),
            ) as resp:
                phase = "body"
                content = await resp.content.read(MAX_ANSWER_BYTES + 1)
                if len(content) > MAX_ANSWER_BYTES:
                    raise ProbeError(
                        ErrorKind.BODY_TOO_LARGE, f"the answer is over {MAX_ANSWER_BYTES} bytes"
                    )
                answer = Answer(resp.status, resp.reason or "", resp.headers, content)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        kind, message = classify_aio(exc, ctx.timeout, phase)
        raise ProbeError(kind, f"{message} ({where})" if where else message) from None
    return answer, Observation(
        latency_ms=ms_since(start), http_status=answer.status_code, connected=True
    )


def json_member(resp: Answer, key: str) -> dict[str, Any] | None:
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


def answered(vendor: str, resp: Answer, message: str) -> str:
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
