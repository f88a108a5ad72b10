"""Chat delivery: the providers under `notifications`, and a Notifier that posts to all of them."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import requests

from healthwatch.errors import DeliveryError, SecretError
from healthwatch.notify.discord import DiscordProvider
from healthwatch.notify.slack import SlackProvider
from healthwatch.secrets import REFERENCE, Secrets

if TYPE_CHECKING:
    from healthwatch.config import Notifications
    from healthwatch.models import AlertEvent

_DELIVERED_MEMORY = 1000


class ChatProvider(Protocol):
    """One chat destination (Slack, Discord): builds its payload and posts it."""

    name: str

    def payload(self, event: AlertEvent) -> dict: ...

    def send(
        self,
        event: AlertEvent,
        session: requests.Session,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None: ...


class ChatDeliveryError(DeliveryError):
    """Some providers failed. `failed` names them; `errors` holds each one's DeliveryError."""

    def __init__(self, errors: dict[str, DeliveryError]) -> None:
        self.errors = errors
        self.failed = list(errors)
        detail = "; ".join(str(e) for e in errors.values())
        super().__init__(f"chat delivery failed for {', '.join(self.failed)}: {detail}")


def providers_from_config(notifications: Notifications, secrets: Secrets) -> list[ChatProvider]:
    """The configured providers, their webhook URLs resolved now.

    An unresolvable reference raises `DeliveryError` naming the provider and the reference
    (after trying every provider, so one message lists every problem). The resolved URLs
    are remembered by `secrets`, so `secrets.redact` removes them from anything logged.
    """
    providers: list[ChatProvider] = []
    problems: list[str] = []
    if notifications.slack is not None:
        cfg = notifications.slack
        url = _resolve("slack", cfg.webhook_url, secrets, problems)
        if url is not None:
            providers.append(SlackProvider(url, channel=cfg.channel, username=cfg.username))
    if notifications.discord is not None:
        dcfg = notifications.discord
        url = _resolve("discord", dcfg.webhook_url, secrets, problems)
        if url is not None:
            providers.append(DiscordProvider(url, username=dcfg.username))
    if problems:
        raise DeliveryError("; ".join(problems))
    return providers


def _resolve(provider: str, text: str, secrets: Secrets, problems: list[str]) -> str | None:
    refs = ", ".join(m.group(0) for m in REFERENCE.finditer(text)) or "webhook_url"
    try:
        url = secrets.resolve(text)
    except SecretError as exc:  # its message names the reference, never a value
        problems.append(f"{provider}: cannot resolve {refs}: {exc}")
        return None
    if not url.strip():
        problems.append(f"{provider}: {refs} resolved to an empty webhook URL")
        return None
    secrets.remember(url)  # a URL written literally in the config is a secret too
    return url


class ChatNotifier:
    """The `Notifier` for chat: every provider gets every event, whatever the others do.

    If any provider fails, `send` raises one `ChatDeliveryError` naming them after trying
    all. An event a provider already took is not posted to it again by this notifier (the
    Lambda retry of a half-failed delivery then only retries the provider that failed, as
    long as it lands in the same container).
    """

    def __init__(
        self,
        providers: Sequence[ChatProvider],
        session: requests.Session,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.providers = list(providers)
        self.session = session
        self.sleep = sleep
        self._delivered: OrderedDict[tuple[str, ...], None] = OrderedDict()

    def send(self, event: AlertEvent) -> None:
        errors: dict[str, DeliveryError] = {}
        for provider in self.providers:
            key = (provider.name, *_event_key(event))
            if key in self._delivered:
                continue
            error: DeliveryError | None = None
            try:
                provider.send(event, self.session, sleep=self.sleep)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a bug in one provider must not silence the others
                error = DeliveryError(f"{provider.name}: unexpected {type(exc).__name__}")
            if error is None:
                self._remember(key)
            else:
                errors[provider.name] = error
        if errors:
            raise ChatDeliveryError(errors)

    def _remember(self, key: tuple[str, ...]) -> None:
        self._delivered[key] = None
        while len(self._delivered) > _DELIVERED_MEMORY:
            self._delivered.popitem(last=False)


def _event_key(event: AlertEvent) -> tuple[str, ...]:
    return (event.check_id, event.event, event.at, event.started_at)
