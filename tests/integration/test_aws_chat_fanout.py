"""The chat fan-out handler: events/ SNS records -> local Slack and Discord servers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from healthwatch.errors import DeliveryError

from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.integration.conftest import event, load_handler, unique, write_config

CHAT_FANOUT = "functions/chat_fanout/app.py"


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="module")
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def chat(aws_env, moto_server, stack, monkeypatch, tmp_path, slack, discord):
    """A cold start of the chat function whose config's webhooks are Secrets Manager secrets."""
    slack.reset()
    discord.reset()
    prefix = f"hotdash-test-{uuid.uuid4().hex[:6]}"
    secrets = moto_server.client("secretsmanager")
    secrets.create_secret(Name=f"{prefix}/slack-webhook", SecretString=slack.webhook_url)
    secrets.create_secret(Name=f"{prefix}/discord-webhook", SecretString=discord.webhook_url)
    notifications = (
        "notifications:\n"
        f'  slack: {{webhook_url: "${{secret:{prefix}/slack-webhook}}"}}\n'
        f'  discord: {{webhook_url: "${{secret:{prefix}/discord-webhook}}"}}\n'
    )
    config = write_config(
        tmp_path, [(unique(), "http://127.0.0.1:9/health")], notifications=notifications
    )
    monkeypatch.setenv("CHECKS_CONFIG", str(config))
    # A delivery table of its own, with the template's key schema: what one test posted is
    # not remembered by the next.
    monkeypatch.setenv("IDEMPOTENCY_TABLE", make_idempotency_table(moto_server, stack))
    return load_handler(CHAT_FANOUT)


def make_idempotency_table(moto_server, stack) -> str:
    props = stack.template["Resources"]["IdempotencyTable"]["Properties"]
    name = f"idempotency-{uuid.uuid4().hex[:8]}"
    moto_server.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props["BillingMode"],
    )
    return name


def test_each_record_is_posted_to_slack_and_discord_in_their_shapes(
    chat, slack, discord, lambda_context
):
    # Given the SNS records of a triggered and a resolved alert
    for name in ("sns-alert-triggered.json", "sns-alert-resolved.json"):
        # When the function gets each
        result = chat.handler(event(name), lambda_context)
        assert result == {"posted": 1, "providers": 2}

    # Then Slack got Block Kit messages and Discord embeds, both accepted
    assert [m["text"][:40] for m in slack.messages][0].startswith("🔴")
    assert all(m["blocks"][0]["type"] == "header" for m in slack.messages)
    assert "Agent SDK Service" in slack.messages[0]["blocks"][0]["text"]["text"]
    assert len(slack.messages) == 2 and len(discord.messages) == 2
    embeds = [m["embeds"][0] for m in discord.messages]
    assert "DOWN" in embeds[0]["title"] and "RESOLVED" in embeds[1]["title"]
    assert all(m["allowed_mentions"] == {"parse": []} for m in discord.messages)


def test_a_429_is_waited_out_for_as_long_as_retry_after_says(chat, slack, discord, lambda_context):
    slack.rate_limit_next(1, retry_after=1)
    # The container's notifier, with its waits recorded instead of slept.
    waits: list[float] = []
    chat.CHAT.chat.sleep = waits.append
    assert chat.handler(event("sns-alert-triggered.json"), lambda_context)["posted"] == 1
    assert waits == [1.0]
    assert len(slack.requests) == 2 and len(slack.messages) == 1
    assert len(discord.messages) == 1


def test_repeated_server_errors_raise_so_lambda_retries(chat, slack, discord, lambda_context):
    discord.fail_next(10, status=500)
    waits: list[float] = []
    chat.CHAT.chat.sleep = waits.append  # the backoff, without the waiting
    with pytest.raises(DeliveryError, match="discord") as failure:
        chat.handler(event("sns-alert-triggered.json"), lambda_context)
    assert discord.messages == [] and len(discord.requests) == 4 and waits
    assert len(slack.messages) == 1  # the other provider still got it
    assert discord.webhook_url not in str(failure.value)  # the URL is the credential

    # Lambda's retry of the same event only retries the provider that failed.
    discord.reset()
    chat.handler(event("sns-alert-triggered.json"), lambda_context)
    assert len(slack.messages) == 1 and len(discord.messages) == 1


def test_a_webhook_secret_that_cannot_be_read_fails_the_delivery(
    aws_env, monkeypatch, tmp_path, lambda_context
):
    notifications = 'notifications:\n  slack: {webhook_url: "${secret:hotdash-missing/slack}"}\n'
    config = write_config(
        tmp_path, [(unique(), "http://127.0.0.1:9/health")], notifications=notifications
    )
    monkeypatch.setenv("CHECKS_CONFIG", str(config))
    chat = load_handler(CHAT_FANOUT)
    with pytest.raises(
        DeliveryError, match=r"slack: cannot resolve \$\{secret:hotdash-missing/slack\}"
    ):
        chat.handler(event("sns-alert-triggered.json"), lambda_context)


def test_a_cloudwatch_alarm_about_the_monitor_reaches_chat(chat, slack, discord, lambda_context):
    # Given the SNS record CloudWatch sends when a tier's heartbeat alarm fires
    result = chat.handler(event("sns-cloudwatch-alarm.json"), lambda_context)
    # Then it is posted like any alert, as the self-monitoring tier, with CloudWatch's reason
    assert result == {"posted": 1, "providers": 2}
    (message,) = slack.messages
    assert "self-monitoring" in message["text"]
    assert "heartbeat" in message["blocks"][0]["text"]["text"].lower()
    assert "no datapoints were received" in str(discord.messages[0]["embeds"][0])


def test_a_replayed_record_posts_nothing_new_even_in_a_new_container(
    chat, slack, discord, lambda_context, monkeypatch
):
    # Given a record the function posted to both providers
    record = event("sns-alert-triggered.json")
    assert chat.handler(record, lambda_context)["posted"] == 1
    assert len(slack.messages) == 1 and len(discord.messages) == 1
    # When SNS delivers it again, to this container and to a fresh one (a cold start)
    chat.handler(record, lambda_context)
    fresh = load_handler(CHAT_FANOUT)
    fresh.handler(record, lambda_context)
    # Then nobody sees it twice: the deliveries are remembered in the idempotency table
    assert len(slack.messages) == 1 and len(discord.messages) == 1


def test_a_half_failed_record_retried_in_a_new_container_posts_the_failed_provider_only(
    chat, slack, discord, lambda_context
):
    discord.fail_next(10, status=500)
    chat.CHAT.chat.sleep = lambda s: None
    with pytest.raises(DeliveryError, match="discord"):
        chat.handler(event("sns-alert-triggered.json"), lambda_context)
    assert len(slack.messages) == 1 and discord.messages == []
    discord.reset()
    retry = load_handler(CHAT_FANOUT)  # Lambda's retry may land in another container
    retry.handler(event("sns-alert-triggered.json"), lambda_context)
    assert len(slack.messages) == 1 and len(discord.messages) == 1
