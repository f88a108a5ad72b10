"""`chatwoot`: the unauthenticated `/health`, then `/api/v1/profile` with the user's API token."""

from __future__ import annotations

import json
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
    redirected,
    references,
    suffix,
    timed_request,
)
from healthwatch.records import Field, field_validator

if TYPE_CHECKING:
    from healthwatch.config import Check

CATEGORY = Category.INTEGRATION

# Fields of the profile that are credentials: the user's own API token, the websocket
# token and the identity-validation HMAC key. Never kept, logged or matched on.
SECRET_FIELDS = ("access_token", "pubsub_token", "hmac_identifier")


@options
class Options:
    base_url: BaseUrl  # the Chatwoot installation, e.g. https://app.chatwoot.com
    token: Credential  # a user's API access token (Profile settings > Access token), as a reference
    check_health: bool = True  # also GET the unauthenticated health endpoint first
    health_path: str = "/health"  # `/api` also reports Redis and Postgres
    account_id: int | None = Field(None, ge=1)  # when set, the user must be active in it

    @field_validator("health_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value


def target(options: Options) -> str:
    return f"{options.base_url}/api/v1/profile"


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    opts: Options = check.options
    token = credential(ctx, opts.token)
    details: dict[str, Any] = {}
    health_problem = await _health(opts, ctx, details) if opts.check_health else None

    resp, obs = await timed_request(ctx, target(opts), json_headers(api_access_token=token))
    obs.details = details
    status = resp.status_code
    if status == 200:
        _profile(obs, resp, opts, ctx)
        if obs.error is None and health_problem:
            obs.verdict = "degraded"
            obs.error = error_text(ErrorKind.HEALTH, health_problem)
        return obs

    message = ctx.secrets.redact(_vendor_message(resp))
    if status == 401:
        obs.error = error_text(
            ErrorKind.AUTH, "Chatwoot rejected the API access token" + suffix(message)
        )
        obs.details["credential"] = references(opts.token)
        obs.details["action"] = (
            "The token was reset or its user removed: copy the access token from the user's "
            f"Profile settings and update {references(opts.token)}."
        )
    elif status == 429:
        obs.verdict = "degraded"
        obs.error = error_text(
            ErrorKind.RATE_LIMITED, "Chatwoot throttled the request" + suffix(message)
        )
        if retry_after := resp.headers.get("Retry-After"):
            obs.details["retry_after_s"] = retry_after
    elif status == 404:
        obs.error = error_text(
            ErrorKind.NOT_FOUND, "no /api/v1/profile here; check `base_url`" + suffix(message)
        )
    elif 300 <= status < 400:
        obs.error = redirected(status)
    else:
        obs.error = answered("Chatwoot", resp, message)
    if health_problem:
        obs.details["health_problem"] = health_problem
    return obs


async def _health(opts: Options, ctx: ProbeContext, details: dict[str, Any]) -> str | None:
    """GET the health endpoint; a problem as text, or None. Unreachable raises ProbeError."""
    url = f"{opts.base_url}{opts.health_path}"
    resp, seen = await timed_request(ctx, url, json_headers(), where=f"on {opts.health_path}")
    health: dict[str, Any] = {"http_status": seen.http_status, "ms": seen.latency_ms}
    details["health"] = health
    try:
        body = json.loads(resp.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        # /health says {"status": "woot"}; /api adds version and dependency states.
        for key in ("status", "version", "queue_services", "data_services"):
            if isinstance(body.get(key), str):
                health[key] = body[key]
    if resp.status_code >= 400:
        return f"{opts.health_path} answered {resp.status_code}"
    failing = [k for k in ("queue_services", "data_services") if health.get(k) == "failing"]
    if failing:
        return f"{opts.health_path} reports {' and '.join(failing)} failing"
    return None


def _profile(obs: Observation, resp: Answer, opts: Options, ctx: ProbeContext) -> None:
    try:
        profile = json.loads(resp.content)
        if not isinstance(profile, dict) or "id" not in profile:
            raise TypeError
    except (ValueError, TypeError):
        obs.error = error_text(ErrorKind.INVALID_JSON, "/api/v1/profile did not return a user")
        return
    for field in SECRET_FIELDS:
        value = profile.pop(field, None)
        if isinstance(value, str):
            ctx.secrets.remember(value)
    # The body conditions see is the profile without its credentials.
    obs.body = ctx.secrets.redact(json.dumps(profile)).encode()
    accounts = [a for a in profile.get("accounts") or [] if isinstance(a, dict)]
    obs.details.update(
        user_id=profile.get("id"),
        user_name=profile.get("available_name") or profile.get("name"),
        role=profile.get("role"),
        accounts=[
            {k: a.get(k) for k in ("id", "name", "role", "status") if a.get(k) is not None}
            for a in accounts
        ],
    )
    if opts.account_id is None:
        return
    account = next((a for a in accounts if a.get("id") == opts.account_id), None)
    if account is None:
        obs.error = error_text(
            ErrorKind.FORBIDDEN, f"the token's user is not a member of account {opts.account_id}"
        )
    elif account.get("status") not in (None, "active"):
        obs.error = error_text(
            ErrorKind.SUSPENDED, f"account {opts.account_id} is {account.get('status')}"
        )


def _vendor_message(resp: Answer) -> str:
    """Chatwoot's `{"error": "..."}`, Devise's `{"errors": [...]}`, or rack-attack's text."""
    try:
        payload = json.loads(resp.content)
    except ValueError:
        text = (
            resp.text.strip()
            if resp.headers.get("Content-Type", "").startswith("text/plain")
            else ""
        )
        return text[:200]
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error") or payload.get("errors") or payload.get("message") or ""
    if isinstance(error, list):
        error = "; ".join(map(str, error))
    return str(error)[:300]
