"""`openai`: `GET /v1/models` with the key; bad key or no credit is down, rate limits degraded."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from healthwatch.errors import ErrorKind, error_text
from healthwatch.probes import Category, Observation, ProbeContext, options
from healthwatch.probes._vendor import (
    Answer,
    BaseUrl,
    Credential,
    answered,
    credential,
    json_headers,
    json_member,
    references,
    suffix,
    timed_request,
)
from healthwatch.secrets import REDACTED

if TYPE_CHECKING:
    from healthwatch.config import Check

CATEGORY = Category.INTEGRATION

DEFAULT_BASE_URL = "https://api.openai.com"
BILLING_URL = "https://platform.openai.com/settings/organization/billing"
KEYS_URL = "https://platform.openai.com/api-keys"
# A run of key-like characters: what a vendor message echoing (part of) a key looks like.
_WORD = re.compile(r"[A-Za-z0-9_\-*.]{6,}")
_FRAGMENT = 6


@options
class Options:
    token: Credential  # the API key (`sk-...`), as a secret reference
    base_url: BaseUrl = DEFAULT_BASE_URL
    organization: str | None = None  # sent as OpenAI-Organization
    project: str | None = None  # sent as OpenAI-Project
    model: str | None = None  # when set, the key must be able to see this model


def target(options: Options) -> str:
    return f"{options.base_url}/v1/models"


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    opts: Options = check.options
    key = credential(ctx, opts.token)
    headers = json_headers(Authorization=f"Bearer {key}")
    if opts.organization:
        headers["OpenAI-Organization"] = opts.organization
    if opts.project:
        headers["OpenAI-Project"] = opts.project
    resp, obs = await timed_request(ctx, target(opts), headers)
    obs.details = _header_details(resp)
    status = resp.status_code
    if status == 200:
        return _models(obs, resp, opts)

    code, kind_hint, raw_message = _vendor_error(resp)
    # OpenAI's 401 message echoes part of the key ("Incorrect API key provided: sk-ab***yz"):
    # it is never kept. Other messages are kept with anything key-like masked out.
    message = _mask(ctx.secrets.redact(raw_message), key)
    if code:
        obs.details["code"] = code
    if status == 401:
        obs.error = error_text(
            ErrorKind.AUTH, f"OpenAI rejected the API key ({code or 'unauthorized'})"
        )
        obs.details["credential"] = references(opts.token)
        obs.details["action"] = (
            f"Create a key at {KEYS_URL} (or check `organization`/`project` match the key) "
            f"and update {references(opts.token)}."
        )
        return obs
    if status == 429 and (code == "insufficient_quota" or kind_hint == "insufficient_quota"):
        obs.error = error_text(
            ErrorKind.QUOTA, "the account is out of credit or over its budget" + suffix(message)
        )
        obs.details["action"] = f"Add credit or raise the usage limit at {BILLING_URL}."
        return obs
    if status == 429:
        obs.verdict = "degraded"
        obs.error = error_text(
            ErrorKind.RATE_LIMITED, "OpenAI rate limit reached" + suffix(message)
        )
        return obs
    if status == 403:
        obs.error = error_text(ErrorKind.FORBIDDEN, f"{code or 'forbidden'}" + suffix(message))
        return obs
    if status == 404:
        obs.error = error_text(
            ErrorKind.NOT_FOUND, "no /v1/models here; check `base_url`" + suffix(message)
        )
        return obs
    obs.error = answered("OpenAI", resp, message)
    return obs


def _models(obs: Observation, resp: Answer, opts: Options) -> Observation:
    try:
        payload = json.loads(resp.content)
        models = [m["id"] for m in payload["data"]]
    except (ValueError, KeyError, TypeError):
        obs.error = error_text(ErrorKind.INVALID_JSON, "/v1/models did not return a list of models")
        return obs
    obs.body = resp.content
    obs.details["models"] = len(models)
    if opts.model is not None:
        obs.details["model_available"] = opts.model in models
        if opts.model not in models:
            obs.error = error_text(
                ErrorKind.NOT_FOUND, f"model {opts.model} is not available to this key"
            )
    return obs


def _header_details(resp: Answer) -> dict[str, Any]:
    """`x-ratelimit-*` as `ratelimit.{limit,remaining,reset}_{requests,tokens}`, plus ids."""
    details: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for name, value in resp.headers.items():
        lower = name.lower()
        if lower.startswith("x-ratelimit-"):
            field = lower.removeprefix("x-ratelimit-").replace("-", "_")
            limits[field] = int(value) if value.isdigit() else value
    if limits:
        details["ratelimit"] = dict(sorted(limits.items()))
    for header, key in (
        ("openai-organization", "organization"),
        ("openai-project", "project"),
        ("x-request-id", "request_id"),
        ("retry-after", "retry_after_s"),
    ):
        if found := resp.headers.get(header):
            details[key] = found
    if processing := resp.headers.get("openai-processing-ms"):
        details["processing_ms"] = int(processing) if processing.isdigit() else processing
    return details


def _vendor_error(resp: Answer) -> tuple[str | None, str | None, str]:
    """(code, type, message) of OpenAI's `{"error": {...}}` body."""
    error = json_member(resp, "error")
    if error is None:
        return None, None, ""
    code = error.get("code")
    kind = error.get("type")
    return (
        str(code) if code else None,
        str(kind) if kind else None,
        str(error.get("message") or "")[:300],
    )


def _mask(text: str, key: str) -> str:
    """`text` with every word that shares a run of characters with `key` replaced."""
    if key:
        text = text.replace(key, REDACTED)
    if len(key) < _FRAGMENT:
        return text
    fragments = {key[i : i + _FRAGMENT] for i in range(len(key) - _FRAGMENT + 1)}

    def word(match: re.Match[str]) -> str:
        w = match.group(0)
        for piece in w.split("*"):
            if any(
                piece[i : i + _FRAGMENT] in fragments for i in range(len(piece) - _FRAGMENT + 1)
            ):
                return REDACTED
        return w

    return _WORD.sub(word, text)
