"""POST JSON to a chat webhook: honour 429, retry 5xx and transport errors, never leak the URL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from healthwatch.errors import DeliveryError
from healthwatch.models import AlertEvent, utcnow

if TYPE_CHECKING:
    import requests  # imported when a post is made: a run without alerts never loads it

BACKOFF_BASE = 0.5  # seconds before the first retry of a 5xx or a transport error
BACKOFF_CAP = 8.0
DEFAULT_RATE_LIMIT_WAIT = 1.0  # a 429 that says nothing about when to come back
VENDOR_TEXT_LIMIT = 300


class WebhookError(DeliveryError):
    """A webhook delivery that failed for good. The text names the provider, never the URL.

    `status` is the last HTTP status (None for a transport error); `vendor_error` is what
    the vendor said (`invalid_payload`, `Invalid Form Body (code 50035)`, ...).
    """

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        status: int | None = None,
        vendor_error: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.provider = provider
        self.status = status
        self.vendor_error = vendor_error
        self.attempts = attempts
        text = f"{provider}: {reason}"
        if status is not None:
            text += f" (HTTP {status})"
        if vendor_error:
            text += f": {vendor_error}"
        if attempts > 1:
            text += f" [after {attempts} attempts]"
        super().__init__(text)


def post_json(
    session: requests.Session,
    url: str,
    payload: Mapping[str, Any],
    *,
    provider: str,
    attempts: int = 4,
    max_retry_after: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 10.0,
) -> requests.Response:
    """POST `payload` and return the 2xx response, or raise `WebhookError`.

    `attempts` bounds the total number of requests. A 429 is waited out for as long as
    the vendor asks (body `retry_after` for Discord, else the `Retry-After` header), unless
    that is more than `max_retry_after`: then we give up at once rather than hammer a
    limit, and the caller's own retry (Lambda's, or the next run) takes over. 5xx answers
    and connection errors or timeouts are retried after 0.5 s, 1 s, 2 s, ... (at most 8 s,
    or the 503's `Retry-After`). Any other status is final: a 4xx will not get better.

    The URL carries the webhook token, so no error raised here contains it, nor chains an
    exception that does (`requests` puts the URL in its messages).
    """
    import requests

    attempts = max(1, attempts)
    secrets = _url_secrets(url)
    last: WebhookError | None = None
    for attempt in range(1, attempts + 1):
        wait = 0.0
        failure: requests.RequestException | None = None
        try:
            response = session.post(url, json=payload, timeout=timeout)
        except requests.RequestException as exc:
            failure = exc  # raised below, outside this block, so it is not even `__context__`
        if failure is not None:
            last = WebhookError(provider, _transport_reason(failure), attempts=attempt)
            if not isinstance(failure, requests.ConnectionError | requests.Timeout):
                raise last
            wait = _backoff(attempt)
        else:
            status = response.status_code
            if 200 <= status < 300:
                return response
            vendor = _redact(vendor_error_text(response), secrets)
            if status == 429:
                wait = rate_limit_wait(response)
                last = WebhookError(
                    provider, "rate limited", status=status, vendor_error=vendor, attempts=attempt
                )
                if wait > max_retry_after:
                    raise WebhookError(
                        provider,
                        f"rate limited; asked to wait {wait:g}s, "
                        f"more than the {max_retry_after:g}s we wait",
                        status=status,
                        vendor_error=vendor,
                        attempts=attempt,
                    )
            elif status >= 500:
                last = WebhookError(
                    provider, "server error", status=status, vendor_error=vendor, attempts=attempt
                )
                asked = _retry_after_header(response.headers)
                wait = min(asked, max_retry_after) if asked is not None else _backoff(attempt)
            else:
                raise WebhookError(
                    provider, "rejected", status=status, vendor_error=vendor, attempts=attempt
                )
        if attempt < attempts:
            sleep(wait)
    assert last is not None
    raise last


def rate_limit_wait(response: requests.Response) -> float:
    """Seconds a 429 asks us to wait.

    Discord's JSON body has `retry_after` as float seconds (API v8+); the unversioned
    `/api/webhooks/...` URL Discord hands out has been seen answering in milliseconds, so a
    body value a hundred times larger than the seconds in the headers is read as ms.
    Slack sends only `Retry-After` (whole seconds).
    """
    headers = response.headers
    header = _retry_after_header(headers)
    reset_after = _float(headers.get("X-RateLimit-Reset-After"))
    body = _json(response)
    if isinstance(body, dict):
        value = _float(body.get("retry_after"))
        if value is not None and value >= 0:
            reference = reset_after if reset_after is not None else header
            if reference is not None and reference > 0 and value > 100 * reference:
                value /= 1000.0
            return value
    for value in (header, reset_after):
        if value is not None and value >= 0:
            return value
    return DEFAULT_RATE_LIMIT_WAIT


def vendor_error_text(response: requests.Response) -> str:
    """What the vendor said about a failure, short enough for a log line or an alert.

    Slack answers with a bare string (`invalid_payload`, `no_service`, `channel_not_found`);
    Discord with JSON (`{"code": 50035, "message": "Invalid Form Body", "errors": {...}}`),
    whose `errors` tree is flattened to `field.path: message`.
    """
    body = _json(response)
    if isinstance(body, dict) and ("message" in body or "code" in body):
        text = str(body.get("message") or "error")
        if body.get("code") not in (None, 0):
            text += f" (code {body['code']})"
        problems = list(_discord_errors(body.get("errors")))
        if problems:
            text += ": " + "; ".join(problems[:5])
        return _clip(text)
    raw = (response.text or "").strip()
    if not raw:
        return response.reason or ""
    if raw.lstrip().startswith("<"):  # an HTML error page from a proxy: say so, don't paste it
        return "HTML error page"
    return _clip(" ".join(raw.split()))


def _discord_errors(tree: Any, path: str = "") -> Any:
    if not isinstance(tree, dict):
        return
    for key, value in tree.items():
        if key == "_errors" and isinstance(value, list):
            for err in value:
                if isinstance(err, dict):
                    yield f"{path or '(body)'}: {err.get('message') or err.get('code')}"
        else:
            yield from _discord_errors(value, f"{path}.{key}" if path else str(key))


def _transport_reason(exc: requests.RequestException) -> str:
    # The exception's own message quotes the URL: only its class is safe to show.
    import requests

    if isinstance(exc, requests.Timeout):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed ({type(exc).__name__})"
    return f"request failed ({type(exc).__name__})"


def _backoff(attempt: int) -> float:
    return min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_CAP)


def _retry_after_header(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    seconds = _float(raw)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max((when - utcnow()).total_seconds(), 0.0)


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _json(response: requests.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _url_secrets(url: str) -> list[str]:
    """The URL and the parts of it that identify the webhook, longest first."""
    parts = urlsplit(url)
    found = {url, parts.path, parts.query}
    found.update(segment for segment in parts.path.split("/") if len(segment) >= 8)
    return sorted((s for s in found if len(s) >= 8), key=len, reverse=True)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _clip(text: str) -> str:
    return text if len(text) <= VENDOR_TEXT_LIMIT else text[: VENDOR_TEXT_LIMIT - 3] + "..."


class WebhookProvider:
    """A chat provider that posts one JSON payload per alert event to its webhook URL."""

    name = "webhook"
    routing: Any = None  # the provider's Options: which events and severities it is sent

    def __init__(self, webhook_url: str) -> None:
        self._url = webhook_url

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        raise NotImplementedError

    def send(
        self,
        event: AlertEvent,
        session: requests.Session,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        post_json(session, self._url, self.payload(event), provider=self.name, sleep=sleep)
