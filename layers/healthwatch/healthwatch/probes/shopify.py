"""`shopify`: the Admin REST API's `shop.json` with the app's token, and why a shop is unusable."""

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
    redirected,
    references,
    suffix,
    timed_request,
)
from healthwatch.records import field_validator

if TYPE_CHECKING:
    from healthwatch.config import Check

CATEGORY = Category.INTEGRATION

DEFAULT_API_VERSION = "2025-10"
_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_API_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")

# Status -> (error kind, what it means, what a person does about it). Shopify documents
# these codes for the Admin API; `{credential}` is the secret reference, never its value.
_REFUSALS: dict[int, tuple[str, str, str]] = {
    401: (
        "auth",
        "invalid access token",
        "The Admin API token is wrong or was revoked (app uninstalled or token rotated): "
        "create a new token for the app and update {credential}.",
    ),
    402: (
        "frozen",
        "shop frozen (unpaid bill)",
        "The store owner must settle the outstanding bill in Shopify admin > Settings > Billing.",
    ),
    403: (
        "forbidden",
        "missing access scope",
        "The app lacks a scope this call needs: add it in the app's configuration and "
        "have the merchant approve it.",
    ),
    404: (
        "not_found",
        "not found",
        "Check `shop` and `api_version`: Shopify knows no such shop or API version.",
    ),
    423: (
        "locked",
        "shop locked",
        "Shopify locked the shop (fraud or terms review): the owner must contact Shopify Support.",
    ),
}


@options
class Options:
    shop: str  # the permanent `*.myshopify.com` domain, not a custom domain
    token: Credential  # Admin API access token (`shpat_...`), as a secret reference
    api_version: str = DEFAULT_API_VERSION
    base_url: BaseUrl | None = None  # default https://{shop}; tests and proxies point it elsewhere

    @field_validator("shop")
    @classmethod
    def _shop(cls, value: str) -> str:
        shop = value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
        if "." not in shop:
            shop += ".myshopify.com"
        if not _SHOP.match(shop):
            raise ValueError(f"expected a *.myshopify.com domain, got {value!r}")
        return shop

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _API_VERSION.match(value):
            raise ValueError(f"expected YYYY-01|04|07|10 or unstable, got {value!r}")
        return value


def target(options: Options) -> str:
    base = options.base_url or f"https://{options.shop}"
    return f"{base}/admin/api/{options.api_version}/shop.json"


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    opts: Options = check.options
    token = credential(ctx, opts.token)
    resp, obs = await timed_request(
        ctx, target(opts), json_headers(**{"X-Shopify-Access-Token": token})
    )
    obs.details = _header_details(resp)
    status = resp.status_code

    if status == 200:
        return _shop_answer(obs, resp, opts)
    message = ctx.secrets.redact(_vendor_message(resp))
    if status == 429:
        retry_after = resp.headers.get("Retry-After")
        obs.verdict = "degraded"
        obs.details["retry_after_s"] = _number(retry_after)
        obs.error = (
            "rate_limited: Shopify throttled the request"
            + (f" (retry after {retry_after}s)" if retry_after else "")
            + suffix(message)
        )
        return obs
    if status in _REFUSALS:
        kind, reason, action = _REFUSALS[status]
        if status == 403 and "unavailable shop" in message.lower():
            kind, reason = "unavailable", "shop unavailable (frozen, closed or paused)"
            action = "The store owner must reopen the shop or settle its bill in Shopify admin."
        obs.error = f"{kind}: {reason}" + suffix(message)
        obs.details.update(reason=reason, action=action.format(credential=references(opts.token)))
        if status == 401:
            obs.details["credential"] = references(opts.token)
        return obs
    if 300 <= status < 400:
        obs.error = redirected(status, "`shop` or `base_url`")
        return obs
    obs.error = answered("Shopify", resp, message)
    return obs


def _shop_answer(obs: Observation, resp: Answer, opts: Options) -> Observation:
    shop = json_member(resp, "shop")
    if shop is None:
        obs.error = error_text(ErrorKind.INVALID_JSON, "shop.json did not return a `shop` object")
        return obs
    obs.body = resp.content
    obs.details.update(
        {
            "shop": shop.get("myshopify_domain"),
            "name": shop.get("name"),
            "plan": shop.get("plan_name"),
            "currency": shop.get("currency"),
            "timezone": shop.get("iana_timezone"),
        }
    )
    served = obs.details.get("api_version")
    if served and opts.api_version != "unstable" and served != opts.api_version:
        # Shopify answers an unsupported version with the oldest supported one.
        obs.verdict = "degraded"
        obs.error = (
            f"api_version: asked for {opts.api_version} but Shopify served {served} "
            "(no longer supported); raise `api_version`"
        )
    obs.details = {k: v for k, v in obs.details.items() if v is not None}
    return obs


def _header_details(resp: Answer) -> dict[str, Any]:
    headers = resp.headers
    details = {
        "api_call_limit": headers.get("X-Shopify-Shop-Api-Call-Limit"),
        "api_version": headers.get("X-Shopify-API-Version"),
        "deprecated_reason": headers.get("X-Shopify-API-Deprecated-Reason"),
        "request_id": headers.get("X-Request-Id"),
    }
    return {k: v for k, v in details.items() if v}


def _vendor_message(resp: Answer) -> str:
    """Shopify's `errors` (a string, a list, or a field -> messages mapping), shortened."""
    try:
        errors = json.loads(resp.content).get("errors")
    except (ValueError, AttributeError):
        return ""
    if isinstance(errors, dict):
        text = "; ".join(
            f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for field, msgs in errors.items()
        )
    elif isinstance(errors, list):
        text = "; ".join(map(str, errors))
    else:
        text = str(errors or "")
    return text[:300]


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
