"""Slack and Discord delivery against fakes that speak the vendors' real shapes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from healthwatch.config.schema import validate_notifications
from healthwatch.errors import DeliveryError
from healthwatch.models import AlertEvent
from healthwatch.notify.chat import REGISTRY, ChatDeliveryError, ChatNotifier, providers_from_config
from healthwatch.notify.chat.discord import DiscordProvider, embed_length, with_wait
from healthwatch.notify.chat.slack import SlackProvider
from healthwatch.notify.webhook import WebhookError, post_json
from healthwatch.secrets import Secrets

from tests.fakes import discord as fake_discord
from tests.fakes import slack as fake_slack
from tests.fakes.discord import FakeDiscord
from tests.fakes.server import FakeServer, Response
from tests.fakes.slack import FakeSlack


def make_event(**overrides: Any) -> AlertEvent:
    data: dict[str, Any] = {
        "event": "triggered",
        "check_id": "agent-service",
        "check_name": "Agent SDK Service",
        "tier": "quick",
        "status": "down",
        "started_at": "2026-11-26T20:30:00.000Z",
        "at": "2026-11-26T20:45:00.123Z",
        "error": "timeout: no answer within 5s",
        "result": {
            "check_id": "agent-service",
            "status": "down",
            "latency_ms": 5001.2,
            "http_status": 500,
            "attempts": 3,
            "error": "timeout: no answer within 5s",
            "conditions": [
                {
                    "condition": "[STATUS] == 200",
                    "success": False,
                    "detail": "[STATUS] (500) == 200",
                },
                {"condition": "[BODY].status == ok", "success": True, "detail": "ok"},
            ],
        },
        "severity": "critical",
        "target": "https://hotdash-agent-service.fly.dev/health",
        "run_id": "quick-2026-11-26T20-45-00Z-3f9a",
        "recent": [
            {
                "at": "2026-11-26T20:30:00.000Z",
                "status": "down",
                "latency_ms": 5000,
                "error": "timeout",
            },
            {
                "at": "2026-11-26T20:45:00.000Z",
                "status": "down",
                "latency_ms": 5001,
                "error": "timeout",
            },
            {"at": "2026-11-26T20:15:00.000Z", "status": "up", "latency_ms": 284.1, "error": None},
        ],
        "details": {},
    }
    data.update(overrides)
    return AlertEvent(**data)


class Sleeps:
    """A `sleep` that records instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# One running server of each kind for the module, reset before every test: stopping a
# server takes up to half a second, so they are stopped together, once.
@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeSlack, FakeDiscord, FakeServer]]:
    running = (FakeSlack().start(), FakeDiscord().start(), FakeServer().start())
    yield running
    stoppers = [threading.Thread(target=s.stop) for s in running]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()


@pytest.fixture
def slack(servers: tuple[FakeSlack, FakeDiscord, FakeServer]) -> FakeSlack:
    return servers[0].reset()


@pytest.fixture
def discord(servers: tuple[FakeSlack, FakeDiscord, FakeServer]) -> FakeDiscord:
    return servers[1].reset()


@pytest.fixture
def server(servers: tuple[FakeSlack, FakeDiscord, FakeServer]) -> FakeServer:
    """A bare server; a test sets `server.fallback` to answer as it needs."""
    servers[2].requests.clear()
    return servers[2]


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


EVENTS = [
    make_event(),
    make_event(event="reminder", at="2026-11-27T02:45:00.000Z"),
    make_event(
        event="resolved",
        status="up",
        error=None,
        at="2026-11-26T21:12:00.000Z",
        result={"status": "up", "latency_ms": 290.0, "attempts": 1, "conditions": []},
    ),
    make_event(
        event="slo_burn",
        status="degraded",
        error=None,
        details={"burn_rate": 16.2, "window": "1h", "availability": 98.1},
    ),
    make_event(
        event="triggered", status="degraded", error=None, target="", recent=[], result={}, run_id=""
    ),
    make_event(
        check_name="Ünïcode <b>&</b> `name` @everyone",
        error="x" * 20_000,
        target="not a url <>",
        recent=[{"at": "bad", "status": "down"}],
    ),
]


# -- payload shapes the real services accept ---------------------------------------------


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.event}-{e.status}")
def test_slack_accepts_every_kind_of_event(
    slack: FakeSlack, session: requests.Session, event: AlertEvent
) -> None:
    # Given a Slack webhook, When each kind of event is sent
    SlackProvider(slack.webhook_url).send(event, session, sleep=Sleeps())
    # Then Slack took it, with a fallback text and a header naming the check
    (message,) = slack.messages
    assert event.check_id in json.dumps(message) or event.check_name[:20] in json.dumps(message)
    assert message["text"]
    header = message["blocks"][0]
    assert header["type"] == "header"
    assert len(header["text"]["text"]) <= 150


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.event}-{e.status}")
def test_discord_accepts_every_kind_of_event(
    discord: FakeDiscord, session: requests.Session, event: AlertEvent
) -> None:
    DiscordProvider(discord.webhook_url, username="healthwatch").send(
        event, session, sleep=Sleeps()
    )
    (message,) = discord.messages
    (embed,) = message["embeds"]
    assert embed_length(embed) <= 6000
    assert message["allowed_mentions"] == {"parse": []}
    # Posted with wait=true, so Discord answered with the created message
    assert discord.requests[-1].query["wait"] == ["true"]


@pytest.mark.parametrize(
    ("event", "emoji", "slack_colour", "discord_colour"),
    [
        (EVENTS[0], "🔴", "#d92d20", 0xD92D20),
        (EVENTS[1], "🟠", "#f79009", 0xF79009),
        (EVENTS[2], "✅", "#2e9e44", 0x2E9E44),
        (EVENTS[3], "🟣", "#7a5af8", 0x7A5AF8),
    ],
)
def test_colour_and_emoji_follow_the_event(
    event: AlertEvent, emoji: str, slack_colour: str, discord_colour: int
) -> None:
    slack_payload = SlackProvider("http://x").payload(event)
    assert slack_payload["blocks"][0]["text"]["text"].startswith(emoji)
    assert slack_payload["attachments"][0]["color"] == slack_colour
    embed = DiscordProvider("http://x").payload(event)["embeds"][0]
    assert embed["title"].startswith(emoji)
    assert embed["color"] == discord_colour


def test_slack_payload_shows_what_a_responder_needs() -> None:
    payload = SlackProvider("http://x", channel="#ops", username="healthwatch").payload(
        make_event()
    )
    text = json.dumps(payload, ensure_ascii=False)
    for expected in (
        "DOWN",
        "Agent SDK Service",
        "agent-service",
        "quick",
        "5001 ms",
        "*Attempts*\\n3",
        "timeout: no answer within 5s",
        "[STATUS] (500) == 200",
        "<https://hotdash-agent-service.fly.dev/health>",
        "<!date^",
        "15m",
        "healthwatch history --check agent-service",
    ):
        assert expected in text, expected
    assert payload["channel"] == "#ops" and payload["username"] == "healthwatch"


def test_slack_escapes_markup_in_names_and_errors() -> None:
    event = make_event(error="<@U123> <!channel> & `rm`")
    text = json.dumps(SlackProvider("http://x").payload(event))
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt;" in text


def test_discord_payload_shows_what_a_responder_needs() -> None:
    embed = DiscordProvider("http://x").payload(make_event())["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Check"] == "`agent-service`"
    assert fields["Tier"] == "quick" and fields["State"] == "down"
    assert fields["Latency"] == "5001 ms" and fields["Attempts"] == "3"
    assert fields["Target"] == "https://hotdash-agent-service.fly.dev/health"
    assert fields["Since"].startswith("<t:")
    assert "timeout: no answer within 5s" in embed["description"]
    assert "[STATUS] (500) == 200" in embed["description"]
    assert embed["timestamp"].startswith("2026-11-26T20:45:00")


def test_discord_limits_hold_with_a_huge_error_and_name(
    discord: FakeDiscord, session: requests.Session
) -> None:
    # Given an event with a 100 000-character error and a 1000-character name and target
    event = make_event(
        error="E" * 100_000,
        check_name="N" * 1000,
        target="https://x/" + "t" * 5000,
        recent=[{"at": "2026-11-26T20:45:00.000Z", "status": "down", "error": "r" * 5000}] * 20,
        details={f"k{i}": "v" * 500 for i in range(40)},
    )
    payload = DiscordProvider(discord.webhook_url).payload(event)
    embed = payload["embeds"][0]
    # Then every piece is within its limit, and the whole embed too
    assert len(embed["title"]) <= 256
    assert len(embed.get("description", "")) <= 4096
    assert len(embed["fields"]) <= 25
    assert all(len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024 for f in embed["fields"])
    assert len(embed["footer"]["text"]) <= 2048
    assert embed_length(embed) <= 6000
    assert fake_discord.form_errors(payload) == {}
    # And Discord accepts it
    DiscordProvider(discord.webhook_url).send(event, session, sleep=Sleeps())
    assert len(discord.messages) == 1


def test_slack_limits_hold_with_a_huge_error_and_name(
    slack: FakeSlack, session: requests.Session
) -> None:
    event = make_event(error="E" * 100_000, check_name="N" * 1000, target="https://x/" + "t" * 5000)
    SlackProvider(slack.webhook_url).send(event, session, sleep=Sleeps())
    assert len(slack.messages) == 1


def test_discord_wait_param_keeps_existing_query() -> None:
    assert with_wait("https://d/api/webhooks/1/t?thread_id=9").endswith("?thread_id=9&wait=true")
    assert with_wait("https://d/api/webhooks/1/t?wait=false").endswith("?wait=true")


# -- rate limits and retries ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "retry_after", "expected_wait"),
    [
        ("slack", 2, 2.0),  # Retry-After header, whole seconds
        ("discord", 0.35, 0.35),  # body retry_after preferred over the rounded-up header
        ("discord", 1.5, 1.5),
    ],
)
def test_429_is_waited_out_for_as_long_as_asked(
    vendor: str,
    retry_after: float,
    expected_wait: float,
    slack: FakeSlack,
    discord: FakeDiscord,
    session: requests.Session,
) -> None:
    fake: FakeSlack | FakeDiscord = slack if vendor == "slack" else discord
    provider = (
        SlackProvider(slack.webhook_url)
        if vendor == "slack"
        else DiscordProvider(discord.webhook_url)
    )
    # Given the vendor rate-limits the next two requests
    fake.rate_limit_next(2, retry_after=retry_after)  # type: ignore[arg-type]
    sleeps = Sleeps()
    # When we send
    provider.send(make_event(), session, sleep=sleeps)
    # Then we waited exactly what it asked, twice, and the third request got through
    assert sleeps.calls == [expected_wait, expected_wait]
    assert len(fake.requests) == 3
    assert len(fake.messages) == 1


def test_429_asking_for_longer_than_we_wait_gives_up_at_once(
    discord: FakeDiscord, session: requests.Session
) -> None:
    discord.rate_limit_next(1, retry_after=120.0)
    sleeps = Sleeps()
    with pytest.raises(DeliveryError) as info:
        DiscordProvider(discord.webhook_url).send(make_event(), session, sleep=sleeps)
    assert sleeps.calls == []
    assert "429" in str(info.value) and "120s" in str(info.value)
    assert len(discord.requests) == 1


def test_429_every_time_fails_after_the_attempts(
    slack: FakeSlack, session: requests.Session
) -> None:
    slack.rate_limit_next(10, retry_after=1)
    sleeps = Sleeps()
    with pytest.raises(WebhookError) as info:
        post_json(session, slack.webhook_url, {"text": "hi"}, provider="slack", sleep=sleeps)
    assert info.value.status == 429
    assert sleeps.calls == [1.0, 1.0, 1.0]
    assert len(slack.requests) == 4


def test_discord_retry_after_in_milliseconds_is_read_as_ms(
    server: FakeServer, session: requests.Session
) -> None:
    # Given an old-API answer: body says 350 (ms) while the reset header says 0.35 s
    server.fallback = lambda req: Response(
        429,
        {"message": "You are being rate limited.", "retry_after": 350, "global": False},
        headers={"X-RateLimit-Reset-After": "0.350"},
    )
    sleeps = Sleeps()
    with pytest.raises(WebhookError):
        post_json(
            session,
            server.url + "/api/webhooks/1/tok",
            {},
            provider="discord",
            attempts=2,
            sleep=sleeps,
        )
    assert sleeps.calls == [0.35]


@pytest.mark.parametrize("vendor", ["slack", "discord"])
@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_retried_with_backoff_then_succeeds(
    vendor: str, status: int, slack: FakeSlack, discord: FakeDiscord, session: requests.Session
) -> None:
    fake: FakeSlack | FakeDiscord = slack if vendor == "slack" else discord
    provider = (
        SlackProvider(slack.webhook_url)
        if vendor == "slack"
        else DiscordProvider(discord.webhook_url)
    )
    fake.fail_next(2, status=status)
    sleeps = Sleeps()
    provider.send(make_event(), session, sleep=sleeps)
    assert sleeps.calls == [0.5, 1.0]
    assert len(fake.messages) == 1


@pytest.mark.parametrize("vendor", ["slack", "discord"])
def test_5xx_every_time_raises_delivery_error(
    vendor: str, slack: FakeSlack, discord: FakeDiscord, session: requests.Session
) -> None:
    fake: FakeSlack | FakeDiscord = slack if vendor == "slack" else discord
    provider = (
        SlackProvider(slack.webhook_url)
        if vendor == "slack"
        else DiscordProvider(discord.webhook_url)
    )
    fake.fail_next(10, status=500)
    sleeps = Sleeps()
    with pytest.raises(DeliveryError) as info:
        provider.send(make_event(), session, sleep=sleeps)
    assert sleeps.calls == [0.5, 1.0, 2.0]
    assert len(fake.requests) == 4
    assert str(info.value).startswith(f"{vendor}: server error (HTTP 500)")


def test_connection_refused_is_retried_then_raises_without_the_url(
    session: requests.Session,
) -> None:
    # Given a port nobody listens on (bound, then closed)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}{fake_slack.HOOK_PATH}"
    sleeps = Sleeps()
    with pytest.raises(WebhookError) as info:
        post_json(session, url, {"text": "hi"}, provider="slack", attempts=3, sleep=sleeps)
    assert sleeps.calls == [0.5, 1.0]
    assert info.value.status is None
    assert "connection failed" in str(info.value)
    assert_no_secret(info.value, url, fake_slack.TOKEN * 2)


def test_timeout_is_retried(server: FakeServer, session: requests.Session) -> None:
    server.fallback = lambda req: Response(200, "ok", delay=0.2)
    sleeps = Sleeps()
    with pytest.raises(WebhookError) as info:
        post_json(
            session,
            server.url + "/services/T/B/secret-token-123",
            {"text": "x"},
            provider="slack",
            attempts=2,
            timeout=0.05,
            sleep=sleeps,
        )
    assert "timed out" in str(info.value)
    assert sleeps.calls == [0.5]
    assert_no_secret(info.value, "secret-token-123")


SLACK_4XX = [
    # path, vendor error, status
    (fake_slack.HOOK_PATH, None, 400),  # payload without text or blocks -> invalid_payload
    ("/services/T000/B000/WRONG-TOKEN", "invalid_token", 403),
    ("/services/T999/B999/XXXX", "no_service", 404),
]


@pytest.mark.parametrize(("path", "vendor_error", "status"), SLACK_4XX)
def test_slack_4xx_is_not_retried_and_says_why(
    path: str, vendor_error: str | None, status: int, slack: FakeSlack, session: requests.Session
) -> None:
    sleeps = Sleeps()
    with pytest.raises(WebhookError) as info:
        post_json(session, slack.url_for(path), {"username": "x"}, provider="slack", sleep=sleeps)
    assert sleeps.calls == [] and len(slack.requests) == 1
    assert info.value.status == status
    assert info.value.vendor_error == (vendor_error or "invalid_payload")
    assert str(info.value) == f"slack: rejected (HTTP {status}): {info.value.vendor_error}"
    assert_no_secret(info.value, slack.url_for(path), path)


DISCORD_4XX = [
    (
        fake_discord.HOOK_PATH,
        {"embeds": [{"title": "t" * 300}]},
        400,
        "Invalid Form Body (code 50035): embeds.0.title: Must be 256 or fewer in length.",
    ),
    (
        f"/api/webhooks/{fake_discord.WEBHOOK_ID}/wrong-token-xyz",
        {"content": "x"},
        401,
        "Invalid Webhook Token (code 50027)",
    ),
    (
        "/api/webhooks/1234567890/some-token-value",
        {"content": "x"},
        404,
        "Unknown Webhook (code 10015)",
    ),
]


@pytest.mark.parametrize(("path", "payload", "status", "vendor_error"), DISCORD_4XX)
def test_discord_4xx_is_not_retried_and_says_why(
    path: str,
    payload: dict,
    status: int,
    vendor_error: str,
    discord: FakeDiscord,
    session: requests.Session,
) -> None:
    sleeps = Sleeps()
    with pytest.raises(WebhookError) as info:
        post_json(session, discord.url_for(path), payload, provider="discord", sleep=sleeps)
    assert sleeps.calls == [] and len(discord.requests) == 1
    assert info.value.status == status
    assert info.value.vendor_error == vendor_error
    assert_no_secret(info.value, discord.url_for(path), path.rsplit("/", 1)[1])


def test_vendor_text_echoing_the_url_is_redacted(
    server: FakeServer, session: requests.Session
) -> None:
    server.fallback = lambda req: Response(400, f"bad request to {req.path}")
    url = server.url + "/services/T1/B1/very-secret-token"
    with pytest.raises(WebhookError) as info:
        post_json(session, url, {"text": "x"}, provider="slack", sleep=Sleeps())
    assert_no_secret(info.value, url, "very-secret-token")
    assert "***" in str(info.value)


def test_an_invalid_url_raises_without_quoting_it(session: requests.Session) -> None:
    with pytest.raises(WebhookError) as info:
        post_json(
            session,
            "hooks.slack.com/services/T/B/secret-in-bad-url",
            {"text": "x"},
            provider="slack",
            sleep=Sleeps(),
        )
    assert "MissingSchema" in str(info.value)
    assert_no_secret(info.value, "secret-in-bad-url")


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    """Neither the error nor anything chained to it (cause, context, args, repr) holds a secret."""
    seen: BaseException | None = exc
    depth = 0
    while seen is not None and depth < 10:
        texts = [str(seen), repr(seen), *map(str, seen.args), json.dumps(vars(seen), default=str)]
        for secret in secrets:
            for text in texts:
                assert secret not in text, f"{secret!r} leaked in {type(seen).__name__}: {text}"
        seen = seen.__cause__ or seen.__context__
        depth += 1
    assert exc.__cause__ is None and exc.__context__ is None


# -- ChatNotifier and the config ------------------------------------------------------------


def test_chat_notifier_posts_to_every_provider(
    slack: FakeSlack, discord: FakeDiscord, session: requests.Session
) -> None:
    notifier = ChatNotifier(
        [SlackProvider(slack.webhook_url), DiscordProvider(discord.webhook_url)],
        session,
        sleep=Sleeps(),
    )
    notifier.send(make_event())
    assert len(slack.messages) == 1 and len(discord.messages) == 1


def test_chat_notifier_tries_the_second_provider_when_the_first_fails(
    slack: FakeSlack, discord: FakeDiscord, session: requests.Session
) -> None:
    # Given Slack with a revoked token, Discord fine
    bad_slack_url = slack.url_for("/services/T000/B000/REVOKED-TOKEN")
    notifier = ChatNotifier(
        [SlackProvider(bad_slack_url), DiscordProvider(discord.webhook_url)],
        session,
        sleep=Sleeps(),
    )
    # When an event is sent, Then Discord got it and one error names Slack only
    with pytest.raises(ChatDeliveryError) as info:
        notifier.send(make_event())
    assert len(discord.messages) == 1
    assert info.value.failed == ["slack"]
    assert "invalid_token" in str(info.value)
    assert isinstance(info.value, DeliveryError)
    assert_no_secret(info.value, bad_slack_url, "REVOKED-TOKEN", fake_discord.WEBHOOK_TOKEN)
    # And a retry of the same event (Lambda's) does not post to Discord twice
    with pytest.raises(ChatDeliveryError):
        notifier.send(make_event())
    assert len(discord.messages) == 1


def test_chat_notifier_names_every_failed_provider(
    slack: FakeSlack, discord: FakeDiscord, session: requests.Session
) -> None:
    slack.fail_next(10)
    discord.fail_next(10)
    notifier = ChatNotifier(
        [SlackProvider(slack.webhook_url), DiscordProvider(discord.webhook_url)],
        session,
        sleep=Sleeps(),
    )
    with pytest.raises(ChatDeliveryError) as info:
        notifier.send(make_event())
    assert info.value.failed == ["slack", "discord"]
    assert str(info.value).startswith("chat delivery failed for slack, discord: ")


def test_chat_notifier_survives_a_provider_bug(
    discord: FakeDiscord, session: requests.Session
) -> None:
    class Broken:
        name = "broken"

        def payload(self, event: AlertEvent) -> dict:
            return {}

        def send(self, event: AlertEvent, session: requests.Session, sleep: Any = None) -> None:
            raise KeyError("https://secret.example/token")

    notifier = ChatNotifier(
        [Broken(), DiscordProvider(discord.webhook_url)], session, sleep=Sleeps()
    )
    with pytest.raises(ChatDeliveryError) as info:
        notifier.send(make_event())
    assert len(discord.messages) == 1
    assert str(info.value) == "chat delivery failed for broken: broken: unexpected KeyError"


def test_providers_from_config_resolves_secret_references(
    slack: FakeSlack, discord: FakeDiscord, session: requests.Session
) -> None:
    notifications = chat_options(
        {
            "slack": {"webhook_url": "${secret:hotdash/slack-webhook}", "channel": "#alerts"},
            "discord": {"webhook_url": "${env:DISCORD_HOOK}", "username": "healthwatch"},
        }
    )
    secrets = Secrets.local(
        {"HW_SECRET_HOTDASH_SLACK_WEBHOOK": slack.webhook_url, "DISCORD_HOOK": discord.webhook_url}
    )
    providers = providers_from_config(notifications, secrets)
    assert [p.name for p in providers] == ["slack", "discord"]
    assert slack.webhook_url not in repr(providers)
    ChatNotifier(providers, session, sleep=Sleeps()).send(make_event())
    assert len(slack.messages) == 1 and len(discord.messages) == 1
    # The resolved URLs are now redacted wherever secrets.redact is applied
    assert fake_discord.WEBHOOK_TOKEN not in secrets.redact(f"boom {discord.webhook_url}")


def test_providers_from_config_names_unresolvable_references() -> None:
    notifications = chat_options(
        {
            "slack": {"webhook_url": "${secret:hotdash/slack-webhook}"},
            "discord": {"webhook_url": "${env:MISSING_DISCORD_HOOK}"},
        }
    )
    with pytest.raises(DeliveryError) as info:
        providers_from_config(notifications, Secrets.local({"UNRELATED": "https://x/secret-value"}))
    text = str(info.value)
    assert "slack: cannot resolve ${secret:hotdash/slack-webhook}" in text
    assert "discord: cannot resolve ${env:MISSING_DISCORD_HOOK}" in text
    assert "secret-value" not in text


def test_no_notifications_means_no_providers() -> None:
    assert providers_from_config(chat_options({}), Secrets.local({})) == []


def chat_options(raw: dict) -> dict:
    """`notifications` as the config validates it, through the chat registry."""
    return validate_notifications(raw, REGISTRY)
