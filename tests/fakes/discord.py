"""A fake Discord webhook on 127.0.0.1 that answers as Discord does (JSON errors, embed limits)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.fakes.server import Request, Response, WebhookFake

WEBHOOK_ID = "112233445566778899"
WEBHOOK_TOKEN = "fAkE-t0ken_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"
CHANNEL_ID = "998877665544332211"
HOOK_PATH = f"/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
_HOOK = re.compile(r"^/api(?:/v\d+)?/webhooks/([^/]+)/([^/]+)$")

# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
LIMITS = {
    "title": 256,
    "description": 4096,
    "field.name": 256,
    "field.value": 1024,
    "footer.text": 2048,
    "author.name": 256,
}
MAX_FIELDS, MAX_EMBEDS, EMBED_TOTAL, CONTENT, USERNAME = 25, 10, 6000, 2000, 80


class FakeDiscord(WebhookFake):
    """`webhook_url` accepts executes; `messages` holds every payload Discord would have posted.

    `received` holds every payload that decoded, accepted or not. `rate_limit_next` and
    `fail_next` make the next N requests answer 429 (headers and JSON body) or 5xx.
    """

    hook_path = HOOK_PATH

    def __init__(self) -> None:
        super().__init__()
        self._next_id = 1_300_000_000_000_000_000

    def rate_limit_next(self, n: int = 1, retry_after: float = 0.35, global_: bool = False) -> None:
        for _ in range(n):
            headers = {
                "Retry-After": str(max(1, round(retry_after))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": "d5f0a1b2c3e4f5a6b7c8d9e0f1a2b3c4",
                "X-RateLimit-Scope": "global" if global_ else "shared",
            }
            if global_:
                headers["X-RateLimit-Global"] = "true"
            body = {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": global_,
            }
            self._scripted.append(Response(429, body, headers=headers))

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        for _ in range(n):
            self._scripted.append(
                Response(status, {"message": "500: Internal Server Error", "code": 0})
            )

    def _handle(self, req: Request) -> Response:
        if (scripted := self._next_scripted()) is not None:
            return scripted
        match = _HOOK.match(req.path)
        if not match:
            return Response(404, {"message": "404: Not Found", "code": 0})
        hook_id, token = match.groups()
        if hook_id != WEBHOOK_ID:
            return Response(404, {"message": "Unknown Webhook", "code": 10015})
        if token != WEBHOOK_TOKEN:
            return Response(401, {"message": "Invalid Webhook Token", "code": 50027})
        if req.method != "POST":
            return Response(405, {"message": "405: Method Not Allowed", "code": 0})
        try:
            payload = json.loads(req.body)
        except ValueError:
            return Response(
                400, {"message": "The request body contains invalid JSON.", "code": 50109}
            )
        self.received.append(payload)
        if not isinstance(payload, dict):
            return Response(400, {"message": "Invalid Form Body", "code": 50035, "errors": {}})
        if not (payload.get("content") or payload.get("embeds")):
            return Response(400, {"message": "Cannot send an empty message", "code": 50006})
        errors = form_errors(payload)
        if errors:
            return Response(400, {"code": 50035, "errors": errors, "message": "Invalid Form Body"})
        self.messages.append(payload)
        if req.query.get("wait", ["false"])[0].lower() != "true":
            return Response(204)
        with self._lock:
            self._next_id += 1
            message_id = str(self._next_id)
        return Response(
            200,
            {
                "id": message_id,
                "type": 0,
                "channel_id": CHANNEL_ID,
                "webhook_id": WEBHOOK_ID,
                "content": payload.get("content") or "",
                "embeds": [{**e, "type": "rich"} for e in payload.get("embeds") or []],
                "author": {
                    "id": WEBHOOK_ID,
                    "username": payload.get("username") or "healthwatch",
                    "bot": True,
                },
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            },
        )


def _too_long(limit: int) -> dict[str, Any]:
    return {
        "_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
        ]
    }


def _required() -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}


def form_errors(payload: dict[str, Any]) -> dict[str, Any]:
    """Discord's nested `errors` object for what breaks a limit (empty when the payload is fine)."""
    errors: dict[str, Any] = {}
    if len(payload.get("content") or "") > CONTENT:
        errors["content"] = _too_long(CONTENT)
    username = payload.get("username")
    if username is not None:
        if not 1 <= len(username) <= USERNAME:
            errors["username"] = _too_long(USERNAME)
        elif any(word in username.lower() for word in ("discord", "clyde")):
            errors["username"] = {
                "_errors": [
                    {
                        "code": "USERNAME_INVALID_CONTAINS",
                        "message": 'Username cannot contain "discord"',
                    }
                ]
            }
    embeds = payload.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        errors["embeds"] = _too_long(MAX_EMBEDS)
        return errors
    total = 0
    embed_errors: dict[str, Any] = {}
    for i, embed in enumerate(embeds):
        mine: dict[str, Any] = {}
        for key in ("title", "description"):
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > LIMITS[key]:
                mine[key] = _too_long(LIMITS[key])
        for outer, inner in (("footer", "text"), ("author", "name")):
            text = (embed.get(outer) or {}).get(inner) or ""
            total += len(text)
            if len(text) > LIMITS[f"{outer}.{inner}"]:
                mine[outer] = {inner: _too_long(LIMITS[f"{outer}.{inner}"])}
        fields = embed.get("fields") or []
        if len(fields) > MAX_FIELDS:
            mine["fields"] = _too_long(MAX_FIELDS)
        field_errors: dict[str, Any] = {}
        for j, field in enumerate(fields):
            problems: dict[str, Any] = {}
            for key in ("name", "value"):
                text = field.get(key)
                if not text:
                    problems[key] = _required()
                    continue
                total += len(text)
                if len(text) > LIMITS[f"field.{key}"]:
                    problems[key] = _too_long(LIMITS[f"field.{key}"])
            if problems:
                field_errors[str(j)] = problems
        if field_errors:
            mine.setdefault("fields", field_errors)
        color = embed.get("color")
        if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
            mine["color"] = {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "bad color"}]}
        if mine:
            embed_errors[str(i)] = mine
    if total > EMBED_TOTAL:
        embed_errors.setdefault("0", {})["_errors"] = [
            {
                "code": "BASE_TYPE_MAX_LENGTH",
                "message": f"Embed size exceeds maximum size of {EMBED_TOTAL}",
            }
        ]
    if embed_errors:
        errors["embeds"] = embed_errors
    return errors
