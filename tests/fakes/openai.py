"""A fake OpenAI API: `/v1/models` behind a bearer key, with OpenAI's error bodies and headers."""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.server import Request, Response, VendorFake

MODELS = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]


def _error(status: int, message: str, kind: str, code: str | None, **headers: str) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Response(status, body, headers=headers)


def masked(key: str) -> str:
    """How OpenAI echoes a wrong key: its start, stars, its last four characters."""
    return key[:8] + "*" * max(len(key) - 12, 4) + key[-4:]


def invalid_key(provided: str) -> Response:
    return _error(
        401,
        f"Incorrect API key provided: {masked(provided)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    )


def no_key() -> Response:
    return _error(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        "invalid_request_error",
        None,
    )


def mismatched_organization() -> Response:
    return _error(
        401,
        "OpenAI-Organization header should match organization for API key",
        "invalid_request_error",
        "mismatched_organization",
    )


def insufficient_quota() -> Response:
    return _error(
        429,
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "insufficient_quota",
        "insufficient_quota",
    )


def rate_limited(org: str = "org-fake") -> Response:
    return _error(
        429,
        f"Rate limit reached for requests in organization {org} on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 20s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        "requests",
        "rate_limit_exceeded",
        **{
            "retry-after": "20",
            "x-ratelimit-limit-requests": "3",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "20s",
        },
    )


def unsupported_country() -> Response:
    return _error(
        403,
        "Country, region, or territory not supported",
        "request_forbidden",
        "unsupported_country_region_territory",
    )


def server_error() -> Response:
    return _error(
        500,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    )


class OpenAIFake(VendorFake):
    """One key, one organization. `override` answers an authenticated request instead."""

    def __init__(self, key: str, organization: str = "org-fake") -> None:
        self.key = key
        self.organization = organization
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.override: Response | None = None
        self.models = list(MODELS)
        self.ratelimit: dict[str, str] = {
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-limit-tokens": "30000000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-remaining-tokens": "29999990",
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-reset-tokens": "0s",
        }
        self.server.requests.clear()

    def _handle(self, req: Request) -> Response:
        resp = self._answer(req)
        headers = {"x-request-id": f"req_{uuid.uuid4().hex}", "openai-processing-ms": "12"}
        if resp.status != 401:
            headers["openai-organization"] = self.organization
            headers.update(self.ratelimit)
        return Response(resp.status, resp.body, {**headers, **resp.headers}, resp.delay)

    def _answer(self, req: Request) -> Response:
        auth = req.header("Authorization") or ""
        if not auth.startswith("Bearer "):
            return no_key()
        provided = auth.removeprefix("Bearer ")
        if provided != self.key:
            return invalid_key(provided)
        org = req.header("OpenAI-Organization")
        if org is not None and org != self.organization:
            return mismatched_organization()
        if self.override is not None:
            return self.override
        if (req.method, req.path) != ("GET", "/v1/models"):
            return _error(
                404, f"Invalid URL ({req.method} {req.path})", "invalid_request_error", None
            )
        data: list[dict[str, Any]] = [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"}
            for m in self.models
        ]
        return Response(200, {"object": "list", "data": data})
