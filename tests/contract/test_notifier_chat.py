"""The notifier contract over each chat provider, against fakes speaking Slack's and
Discord's webhook answers on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
import requests
from healthwatch.notify.chat import ChatNotifier, get

from tests.contract.notifiers import Destination, NotifierContract
from tests.fakes.discord import WEBHOOK_TOKEN, FakeDiscord
from tests.fakes.slack import TOKEN, FakeSlack


def _chat(provider: str, url: str, session: requests.Session) -> ChatNotifier:
    module = get(provider)
    options = module.Options(webhook_url=url)
    return ChatNotifier([module.Provider.from_options(options, url)], session, sleep=lambda _: None)


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


class TestSlack(NotifierContract):
    @pytest.fixture
    def destination(self, session):
        with FakeSlack() as slack:
            # a revoked webhook: Slack answers 403 invalid_token
            revoked = slack.webhook_url.rsplit("/", 1)[0] + "/revokedtoken123"
            yield Destination(
                notifier=_chat("slack", slack.webhook_url, session),
                broken=lambda: _chat("slack", revoked, session),
                received=lambda: [json.dumps(m, ensure_ascii=False) for m in slack.messages],
                secrets=(slack.webhook_url, TOKEN, "revokedtoken123"),
            )


class TestDiscord(NotifierContract):
    @pytest.fixture
    def destination(self, session):
        with FakeDiscord() as discord:

            def broken() -> ChatNotifier:
                discord.fail_next(10, status=500)
                return _chat("discord", discord.webhook_url, session)

            yield Destination(
                notifier=_chat("discord", discord.webhook_url, session),
                broken=broken,
                received=lambda: [json.dumps(m, ensure_ascii=False) for m in discord.messages],
                secrets=(discord.webhook_url, WEBHOOK_TOKEN),
            )
