"""`ga4`: a service-account key exchanged for a token, then one cheap Analytics API call."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from datetime import UTC
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from healthwatch.errors import ErrorKind, ProbeError, error_text
from healthwatch.probes import Category, Observation, ProbeContext, options
from healthwatch.probes._vendor import (
    USER_AGENT,
    Answer,
    BaseUrl,
    Credential,
    answered,
    json_member,
    ms_since,
    redirected,
    references,
    suffix,
    timed_request,
)
from healthwatch.probes.http import classify
from healthwatch.records import field_validator

if TYPE_CHECKING:
    import requests

    from healthwatch.config import Check

CATEGORY = Category.INTEGRATION

SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
API_URLS = {
    "admin": "https://analyticsadmin.googleapis.com",
    "data": "https://analyticsdata.googleapis.com",
}
API_NAMES = {"admin": "Google Analytics Admin API", "data": "Google Analytics Data API"}
# The smallest useful report: one metric over two days, one row, and the property's quota.
REPORT = {
    "dateRanges": [{"startDate": "yesterday", "endDate": "today"}],
    "metrics": [{"name": "activeUsers"}],
    "limit": "1",
    "returnPropertyQuota": True,
}
REFRESH_MARGIN_S = 300  # fetch a new token this long before the cached one expires

# Access tokens per container, keyed by (client_email, token_uri, private_key_id): a cache
# (Google issues one-hour tokens), not a client. Entries are (token, expiry epoch seconds).
_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


@options
class Options:
    property_id: str  # numeric GA4 property id (or `properties/123`, or a reference)
    credentials: Credential  # the service-account key file's JSON, as a secret reference
    api: Literal["admin", "data"] = "data"
    base_url: BaseUrl | None = None  # the API's root; default Google's host for `api`

    @field_validator("property_id", mode="before")
    @classmethod
    def _property(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and "${" not in value:
            value = value.strip().removeprefix("properties/")
            if not value.isdigit():
                raise ValueError(f"expected a numeric GA4 property id, got {value!r}")
        return value


def target(options: Options) -> str:
    return _url(options, options.property_id)


def clear_token_cache() -> None:
    """Forget every cached access token (tests; a rotated key is picked up by its new id)."""
    with _tokens_lock:
        _tokens.clear()


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """The API call on the run's loop; google-auth's token exchange (synchronous, on
    requests) in a thread, and only when no cached token is still good."""
    opts: Options = check.options
    info = _key(ctx.secrets.resolve(opts.credentials), ctx)
    property_id = ctx.secrets.resolve(opts.property_id).strip().removeprefix("properties/")
    if not property_id.isdigit():
        raise ProbeError(
            ErrorKind.CONFIG, "property_id did not resolve to a numeric GA4 property id"
        )
    details: dict[str, Any] = {
        "service_account": info["client_email"],
        "key_id": info.get("private_key_id"),
        "property": f"properties/{property_id}",
        "api": opts.api,
    }
    cache_key = (info["client_email"], info["token_uri"], str(info.get("private_key_id", "")))
    token = _cached_token(cache_key, ctx)
    if token is None:
        fresh = await asyncio.to_thread(_new_token, info, cache_key, ctx, details, opts.credentials)
        if isinstance(fresh, Observation):
            return fresh
        token = fresh

    url = _url(opts, property_id)
    headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
    if opts.api == "admin":
        resp, obs = await timed_request(ctx, url, headers)
    else:
        resp, obs = await timed_request(ctx, url, headers, method="POST", json_body=REPORT)
    obs.details = details
    if resp.status_code == 200:
        _answer(obs, resp, opts)
    else:
        _refusal(obs, resp, opts, info, cache_key, ctx)
    obs.details = {k: v for k, v in obs.details.items() if v is not None}
    return obs


def _key(raw: str, ctx: ProbeContext) -> dict[str, Any]:
    """The parsed service-account key; its private key becomes a secret to redact."""
    ctx.secrets.remember(raw)
    try:
        info = json.loads(raw)
    except ValueError:
        raise ProbeError(
            "credentials", "not JSON: expected the contents of a service-account key file"
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ProbeError(
            "credentials", "not a service-account key (`type` must be service_account)"
        )
    missing = [f for f in ("client_email", "private_key", "token_uri") if not info.get(f)]
    if missing:
        raise ProbeError(ErrorKind.CREDENTIALS, f"the key lacks {', '.join(missing)}")
    ctx.secrets.remember(str(info["private_key"]))
    return info


def _cached_token(key: tuple[str, str, str], ctx: ProbeContext) -> str | None:
    with _tokens_lock:
        entry = _tokens.get(key)
    if entry is None or entry[1] - time.time() <= REFRESH_MARGIN_S:
        return None
    ctx.secrets.remember(entry[0])  # a new Secrets (next run) must know it too
    return entry[0]


def _new_token(
    info: dict[str, Any],
    key: tuple[str, str, str],
    ctx: ProbeContext,
    details: dict[str, Any],
    reference: str,
) -> str | Observation:
    """Exchange a signed JWT for an access token at the key's `token_uri` (JWT bearer grant)."""
    from google.auth import exceptions
    from google.oauth2 import service_account

    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    except Exception as exc:  # a malformed private key: say which kind, never the text
        raise ProbeError(
            "credentials", f"the service-account key could not be loaded ({type(exc).__name__})"
        ) from None
    start = time.perf_counter()
    try:
        credentials.refresh(_bounded_request(ctx.session, ctx.timeout))
    except exceptions.RefreshError as exc:
        message = ctx.secrets.redact(str(exc.args[0]) if exc.args else "refused")[:300]
        refs = references(reference, missing="")
        details.update(
            token_uri=info["token_uri"],
            credential=refs or None,
            action=(
                f"The key may have been deleted or disabled, or {info['client_email']} removed: "
                f"create a new JSON key for it and update {refs or 'the secret'}."
            ),
        )
        return Observation(
            latency_ms=ms_since(start),
            error=error_text(ErrorKind.AUTH, f"token exchange failed: {message}"),
            details={k: v for k, v in details.items() if v is not None},
        )
    except exceptions.TransportError as exc:
        import requests  # google-auth's transport, loaded with it

        cause = exc.__cause__
        if isinstance(cause, requests.exceptions.RequestException):
            kind, message = classify(cause, ctx.timeout)
        else:
            kind, message = "connection_error", type(exc).__name__
        raise ProbeError(kind, f"{message} (token endpoint)") from None
    details["token_ms"] = ms_since(start)
    token = str(credentials.token)
    ctx.secrets.remember(token)
    expiry = credentials.expiry
    expires_at = expiry.replace(tzinfo=UTC).timestamp() if expiry else time.time() + 3000
    with _tokens_lock:
        _tokens[key] = (token, expires_at)
    return token


def _answer(obs: Observation, resp: Answer, opts: Options) -> None:
    try:
        payload = json.loads(resp.content)
        if not isinstance(payload, dict):
            raise TypeError
    except (ValueError, TypeError):
        obs.error = error_text(
            ErrorKind.INVALID_JSON, f"the {API_NAMES[opts.api]} did not answer JSON"
        )
        return
    obs.body = resp.content
    if opts.api == "admin":
        obs.details.update(
            display_name=payload.get("displayName"),
            time_zone=payload.get("timeZone"),
            currency=payload.get("currencyCode"),
            service_level=payload.get("serviceLevel"),
            account=payload.get("account") or payload.get("parent"),
        )
        if payload.get("deleteTime"):
            obs.error = error_text(
                ErrorKind.NOT_FOUND, f"the property is in the trash since {payload['deleteTime']}"
            )
        return
    rows = payload.get("rows") or []
    try:
        active = int(rows[0]["metricValues"][0]["value"]) if rows else 0
    except (KeyError, IndexError, TypeError, ValueError):
        active = None
    obs.details["active_users"] = active
    quota = payload.get("propertyQuota") or {}
    remaining = {
        _snake(name): entry.get("remaining")
        for name, entry in quota.items()
        if isinstance(entry, dict) and "remaining" in entry
    }
    if remaining:
        obs.details["quota_remaining"] = remaining


def _refusal(
    obs: Observation,
    resp: Answer,
    opts: Options,
    info: dict[str, Any],
    cache_key: tuple[str, str, str],
    ctx: ProbeContext,
) -> None:
    status = resp.status_code
    google_status, reason, message = _google_error(resp)
    message = ctx.secrets.redact(message)
    obs.details.update(google_status=google_status, reason=reason)
    if status == 401:
        with _tokens_lock:  # a revoked token: the next attempt exchanges the key again
            _tokens.pop(cache_key, None)
        obs.error = "auth" + (suffix(message) or ": the access token was rejected")
    elif status == 403:
        obs.error = "forbidden" + (suffix(message) or ": permission denied")
        if reason == "SERVICE_DISABLED" or "has not been used in project" in message:
            obs.details["action"] = (
                f"Enable the {API_NAMES[opts.api]} in Google Cloud project "
                f"{info.get('project_id', '(the key’s project)')}."
            )
        elif reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
            obs.details["action"] = f"The token lacks the {SCOPE} scope."
        else:
            obs.details["action"] = (
                f"Add {info['client_email']} to the GA4 property (Admin > Property access "
                "management) with the Viewer role."
            )
    elif status == 404:
        obs.error = "not_found" + (suffix(message) or ": no such property")
    elif status == 429:
        obs.verdict = "degraded"
        obs.error = "rate_limited" + (suffix(message) or ": quota exhausted")
    elif status == 400:
        obs.error = "invalid_request" + (suffix(message) or ": bad request")
    elif 300 <= status < 400:
        obs.error = redirected(status)
    else:
        obs.error = answered("Google", resp, message)


def _google_error(resp: Answer) -> tuple[str | None, str | None, str]:
    """(status, ErrorInfo reason, message) of Google's `{"error": {...}}` body."""
    error = json_member(resp, "error")
    if error is None:
        return None, None, ""
    reason = None
    for item in error.get("details") or []:
        if isinstance(item, dict) and item.get("reason"):
            reason = str(item["reason"])
            break
    status = error.get("status")
    return (str(status) if status else None), reason, str(error.get("message") or "")[:300]


@cache
def _bounded_transport() -> type:
    """google-auth's requests transport, with the probe's timeout as a budget for every try."""
    from google.auth.transport.requests import Request

    class BoundedRequest(Request):
        def __init__(self, session: requests.Session, budget: float) -> None:
            super().__init__(session=session)
            self._deadline = time.monotonic() + budget
            self._budget = budget

        def __call__(
            self,
            url: str,
            method: str = "GET",
            body: Any = None,
            headers: Any = None,
            timeout: Any = None,
            **kwargs: Any,
        ) -> Any:
            left = self._deadline - time.monotonic()
            if left <= 0:  # google-auth retries 5xx with backoff; stop at our deadline
                raise ProbeError(
                    ErrorKind.TIMEOUT, f"no token within {self._budget:g}s (token endpoint)"
                )
            return super().__call__(
                url, method=method, body=body, headers=headers, timeout=left, **kwargs
            )

    return BoundedRequest


def _bounded_request(session: requests.Session, budget: float) -> Any:
    return _bounded_transport()(session, budget)


def _url(options: Options, property_id: str) -> str:
    base = options.base_url or API_URLS[options.api]
    path = f"/v1beta/properties/{property_id}"
    return base + (path if options.api == "admin" else f"{path}:runReport")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
