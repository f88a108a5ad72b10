"""Slack incoming webhook: one Block Kit message per alert event, coloured by what happened."""

from __future__ import annotations

from typing import Any

from healthwatch.models import AlertEvent, parse_iso
from healthwatch.notify import wording
from healthwatch.notify.chat.options import WebhookOptions
from healthwatch.notify.webhook import WebhookProvider

# Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_PER_SECTION = 10
FALLBACK_LIMIT = 3000

STYLE: dict[str, tuple[str, str]] = {  # event -> (emoji, attachment colour)
    "triggered": ("🔴", "#d92d20"),
    "resolved": ("✅", "#2e9e44"),
    "reminder": ("🟠", "#f79009"),
    "slo_burn": ("🟣", "#7a5af8"),
}


class Options(WebhookOptions):
    """`notifications.slack`: an incoming webhook; `channel` and `username` for legacy ones."""

    channel: str | None = None
    username: str | None = None


class SlackProvider(WebhookProvider):
    """Posts to one Slack incoming webhook.

    `channel` and `username` only take effect on legacy (custom-integration) webhooks;
    a Slack app's webhook always posts to the channel it was created for, as itself.
    """

    name = "slack"

    def __init__(
        self, webhook_url: str, channel: str | None = None, username: str | None = None
    ) -> None:
        self._url = webhook_url
        self.channel = channel
        self.username = username

    @classmethod
    def from_options(cls, options: Options, webhook_url: str) -> SlackProvider:
        return cls(webhook_url, channel=options.channel, username=options.username)

    def __repr__(self) -> str:  # never show the URL: it is the credential
        return f"SlackProvider(channel={self.channel!r}, username={self.username!r})"

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        """`text` (the push notification), a header and summary, details beside a colour bar."""
        emoji, colour = STYLE.get(event.event, ("🔔", "#667085"))
        title = f"{emoji} {wording.tag(event)}: {event.check_name or event.check_id} ({event.tier})"
        summary = _summary(event)
        top: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _cut(title, HEADER_LIMIT), "emoji": True},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(summary, SECTION_LIMIT)}},
        ]
        message: dict[str, Any] = {
            "text": _cut(f"{emoji} {wording.headline(event)} ({event.tier})", FALLBACK_LIMIT),
            "blocks": top,
            "attachments": [{"color": colour, "blocks": _detail_blocks(event)}],
        }
        if self.channel:
            message["channel"] = self.channel
        if self.username:
            message["username"] = self.username
        return message


def _summary(event: AlertEvent) -> str:
    lines = [f"*{escape(wording.headline(event))}*"]
    error = event.error or event.result.get("error")
    if event.event != "resolved" and error:
        lines.append(f"```{_code(wording.one_line(str(error), 1500))}```")
    failed = wording.failed_conditions(event)
    if event.event != "resolved" and failed:
        lines.append("Failed: " + ", ".join(f"`{_code(c)}`" for c in failed[:5]))
    extra = wording.detail_lines(event.details)
    if extra:
        lines.append(escape("\n".join(extra)))
    return "\n".join(lines)


def _detail_blocks(event: AlertEvent) -> list[dict[str, Any]]:
    since = _since(event)  # a Slack date token, already escaped
    fields = [
        (
            name,
            f"`{_code(value)}`" if name == "Check" else value if value is since else escape(value),
        )
        for name, value in wording.facts(event, since)
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _cut(f"*{name}*\n{value}", FIELD_LIMIT)}
                for name, value in fields[:FIELDS_PER_SECTION]
            ],
        }
    ]
    if event.target:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _cut(f"*Target*\n{_link(event.target)}", SECTION_LIMIT),
                },
            }
        )
    next_steps = ([f"*Next step:* {escape(event.action)}"] if event.action else []) + [
        f"*{escape(name.title())}:* <{url}|{escape(url)}>" for name, url in wording.links(event)
    ]
    if next_steps and event.event != "resolved":
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut("\n".join(next_steps), SECTION_LIMIT)},
            }
        )
    recent = wording.recent_results(event)
    if recent:
        text = "*Last results*\n```" + _code("\n".join(recent)) + "```"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}}
        )
    context = f"`healthwatch history --check {_code(event.check_id)}`"
    if event.run_id:
        context += f" · run `{_code(event.run_id)}`"
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, 3000)}]}
    )
    return blocks


def escape(text: str) -> str:
    """Slack mrkdwn control characters; `<`, `>` and `&` would otherwise start links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    # A backtick would close the code span and let the rest be read as markup.
    return escape(text.replace("`", "'"))


def _link(url: str) -> str:
    if url.startswith(("http://", "https://")) and not any(c in url for c in "<>| \n"):
        return f"<{url}>"
    return escape(url)


def _since(event: AlertEvent) -> str:
    """Slack's date token: each reader sees the time in their own zone; UTC as the fallback."""
    try:
        ts = int(parse_iso(event.started_at).timestamp())
    except (ValueError, TypeError):
        return escape(event.started_at or "unknown")
    return f"<!date^{ts}^{{date_short_pretty}} {{time}}|{wording.when(event.started_at)}>"


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1] + "…"
    if cut.count("```") % 2:  # keep a code block closed
        cut = text[: limit - 4] + "…```"
    return cut


Provider = SlackProvider
