"""Discord webhook: one embed per alert event, coloured by state, within Discord's limits."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from healthwatch.models import AlertEvent, parse_iso
from healthwatch.notify import wording
from healthwatch.notify.chat.options import WebhookOptions
from healthwatch.notify.webhook import WebhookProvider

# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_LIMIT = 25
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
USERNAME_LIMIT = 80

STYLE: dict[str, tuple[str, int]] = {  # event -> (emoji, embed colour)
    "triggered": ("🔴", 0xD92D20),  # red
    "resolved": ("✅", 0x2E9E44),  # green
    "reminder": ("🟠", 0xF79009),  # orange
    "slo_burn": ("🟣", 0x7A5AF8),  # purple
}


class Options(WebhookOptions):
    """`notifications.discord`: a channel webhook, and the name its posts show."""

    username: str | None = None


class DiscordProvider(WebhookProvider):
    """Posts to one Discord webhook with `?wait=true`: Discord confirms the message it created."""

    name = "discord"

    def __init__(self, webhook_url: str, username: str | None = None) -> None:
        self._url = with_wait(webhook_url)
        self.username = username

    @classmethod
    def from_options(cls, options: Options, webhook_url: str) -> DiscordProvider:
        return cls(webhook_url, username=options.username)

    def __repr__(self) -> str:  # never show the URL: it is the credential
        return f"DiscordProvider(username={self.username!r})"

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        emoji, colour = STYLE.get(event.event, ("🔔", 0x667085))
        name = event.check_name or event.check_id
        embed: dict[str, Any] = {
            "title": f"{emoji} {wording.tag(event)}: {name} ({event.tier})",
            "description": _description(event),
            "color": colour,
            "fields": _fields(event),
            "footer": {"text": _footer(event)},
        }
        with contextlib.suppress(ValueError, TypeError):
            embed["timestamp"] = parse_iso(event.at).isoformat()
        message: dict[str, Any] = {
            "content": "",
            "embeds": [fit_embed(embed)],
            "allowed_mentions": {"parse": []},  # an error text saying @everyone pings nobody
        }
        if self.username:
            message["username"] = self.username[:USERNAME_LIMIT]
        return message


def with_wait(url: str) -> str:
    """`url` with `wait=true` in its query (keeping `thread_id` and the like)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "wait"]
    query.append(("wait", "true"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def fit_embed(embed: dict[str, Any]) -> dict[str, Any]:
    """`embed` cut to Discord's limits: each piece on its own, then 6000 characters in all.

    A message over any limit is refused whole (400, code 50035), so an alert with a huge
    error text must lose the tail of that text, not the alert. The description goes
    first, then the last fields.
    """
    out = dict(embed)
    if "title" in out:
        out["title"] = _cut(str(out["title"]), TITLE_LIMIT)
    if "description" in out:
        out["description"] = _cut(str(out["description"]), DESCRIPTION_LIMIT)
    if "footer" in out:
        out["footer"] = {
            **out["footer"],
            "text": _cut(str(out["footer"].get("text", "")), FOOTER_LIMIT),
        }
    if "author" in out:
        out["author"] = {
            **out["author"],
            "name": _cut(str(out["author"].get("name", "")), AUTHOR_LIMIT),
        }
    fields = []
    for field in list(out.get("fields") or [])[:FIELDS_LIMIT]:
        name = _cut(str(field.get("name") or "\u200b"), FIELD_NAME_LIMIT)
        value = _cut(str(field.get("value") or "\u200b"), FIELD_VALUE_LIMIT)
        fields.append({**field, "name": name, "value": value})
    out["fields"] = fields

    excess = embed_length(out) - EMBED_TOTAL_LIMIT
    if excess > 0 and out.get("description"):
        keep = max(len(out["description"]) - excess, 0)
        out["description"] = _cut(out["description"], keep) if keep >= 16 else ""
        excess = embed_length(out) - EMBED_TOTAL_LIMIT
    while excess > 0 and out["fields"]:
        out["fields"].pop()
        excess = embed_length(out) - EMBED_TOTAL_LIMIT
    if excess > 0 and "footer" in out:
        out["footer"] = {
            **out["footer"],
            "text": _cut(out["footer"]["text"], max(len(out["footer"]["text"]) - excess, 1)),
        }
    if not out.get("description"):
        out.pop("description", None)
    return out


def embed_length(embed: dict[str, Any]) -> int:
    """The characters Discord counts toward the 6000 limit."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for field in embed.get("fields") or []:
        total += len(field.get("name") or "") + len(field.get("value") or "")
    return total


def _description(event: AlertEvent) -> str:
    lines = [f"**{wording.headline(event)}**"]
    error = event.error or event.result.get("error")
    if event.event != "resolved" and error:
        # 3500 leaves room for the headline and conditions within the 4096 limit.
        lines.append(f"```\n{_code(wording.one_line(str(error), 3500))}\n```")
    failed = wording.failed_conditions(event)
    if event.event != "resolved" and failed:
        lines.append("Failed: " + ", ".join(f"`{_code(c)}`" for c in failed[:5]))
    lines += wording.detail_lines(event.details)
    return "\n".join(lines)


def _fields(event: AlertEvent) -> list[dict[str, Any]]:
    fields = [
        (name, f"`{_code(value)}`" if name == "Check" else value, True)
        for name, value in wording.facts(event, _since(event))
    ]
    if event.target:
        fields.append(("Target", event.target, False))
    if event.action and event.event != "resolved":
        fields.append(("Next step", event.action, False))
    for name, url in wording.links(event):
        fields.append((name.title(), url, True))
    recent = wording.recent_results(event)
    if recent:
        fields.append(("Last results", "```\n" + _code("\n".join(recent)) + "\n```", False))
    return [{"name": n, "value": v or "\u200b", "inline": i} for n, v, i in fields]


def _footer(event: AlertEvent) -> str:
    text = f"healthwatch history --check {event.check_id}"
    if event.run_id:
        text += f" · run {event.run_id}"
    return text


def _since(event: AlertEvent) -> str:
    """Discord's timestamp token: each reader sees their own zone, plus "3 hours ago"."""
    try:
        ts = int(parse_iso(event.started_at).timestamp())
    except (ValueError, TypeError):
        return event.started_at or "unknown"
    return f"<t:{ts}:f> (<t:{ts}:R>)"


def _code(text: str) -> str:
    return text.replace("`", "'")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    cut = text[: limit - 1] + "…"
    if cut.count("```") % 2 and limit > 8:  # keep a code block closed
        cut = text[: limit - 5] + "…\n```"
    return cut


Provider = DiscordProvider
