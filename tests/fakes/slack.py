"""A fake Slack incoming webhook on 127.0.0.1 that answers as Slack does (bare-string bodies)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.server import Request, Response, WebhookFake

TEAM, BOT, TOKEN = "T000", "B000", "XXXX"
HOOK_PATH = f"/services/{TEAM}/{BOT}/{TOKEN}"
_HOOK = re.compile(r"^/services/([^/]+)/([^/]+)/([^/]+)$")

# https://api.slack.com/reference/block-kit/blocks
MAX_BLOCKS = 50
HEADER_TEXT = 150
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
CONTEXT_ELEMENTS = 10


class FakeSlack(WebhookFake):
    """`webhook_url` accepts posts; `messages` holds every payload Slack would have posted.

    `received` holds every payload that decoded, accepted or not. `rate_limit_next` and
    `fail_next` make the next N requests answer 429 (with `Retry-After`) or 5xx.
    """

    hook_path = HOOK_PATH

    # programming -----------------------------------------------------------------------
    def rate_limit_next(self, n: int = 1, retry_after: int = 1) -> None:
        for _ in range(n):
            self._scripted.append(
                Response(429, "rate_limited", headers={"Retry-After": str(retry_after)})
            )

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        body = "rollup_error" if status == 500 else "service_unavailable"
        for _ in range(n):
            self._scripted.append(Response(status, body))

    # the webhook -----------------------------------------------------------------------
    def _handle(self, req: Request) -> Response:
        if (scripted := self._next_scripted()) is not None:
            return scripted
        match = _HOOK.match(req.path)
        if req.method != "POST" or not match:
            return Response(404, "no_service")
        team, bot, token = match.groups()
        if (team, bot) != (TEAM, BOT):
            return Response(404, "no_service")
        if token != TOKEN:
            return Response(403, "invalid_token")
        try:
            payload = json.loads(req.body)
        except ValueError:
            return Response(400, "invalid_payload")
        self.received.append(payload)
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return Response(400, "invalid_payload")
        problem = _blocks_problem(payload.get("blocks"))
        for attachment in payload.get("attachments") or []:
            if not isinstance(attachment, dict):
                problem = problem or "attachment is not an object"
            else:
                problem = problem or _blocks_problem(attachment.get("blocks"))
        if problem:
            return Response(400, "invalid_blocks", headers={"X-Fake-Problem": problem})
        self.messages.append(payload)
        return Response(200, "ok")


def _blocks_problem(blocks: Any) -> str | None:
    """What Slack would reject in `blocks` (None when fine); a minimal Block Kit check."""
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        return "blocks is not a list"
    if len(blocks) > MAX_BLOCKS:
        return f"more than {MAX_BLOCKS} blocks"
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"blocks[{i}] has no type"
        kind = block["type"]
        if kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text" or not text.get("text"):
                return f"blocks[{i}] header needs plain_text"
            if len(text["text"]) > HEADER_TEXT:
                return f"blocks[{i}] header text over {HEADER_TEXT}"
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if not text and not fields:
                return f"blocks[{i}] section needs text or fields"
            if text and (not isinstance(text, dict) or len(text.get("text") or "") > SECTION_TEXT):
                return f"blocks[{i}] section text over {SECTION_TEXT}"
            if fields:
                if len(fields) > SECTION_FIELDS:
                    return f"blocks[{i}] more than {SECTION_FIELDS} fields"
                if any(len(f.get("text") or "") > FIELD_TEXT for f in fields):
                    return f"blocks[{i}] field text over {FIELD_TEXT}"
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > CONTEXT_ELEMENTS:
                return f"blocks[{i}] context needs 1..{CONTEXT_ELEMENTS} elements"
    return None
