"""Chat destinations whose webhook secrets are resolved at the first alert, not at start-up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from healthwatch.notify.chat import ChatNotifier, providers_from_config

if TYPE_CHECKING:
    import requests

    from healthwatch.config import Notifications
    from healthwatch.models import AlertEvent
    from healthwatch.secrets import Secrets

# One post: post_json's 4 attempts of a 10 s timeout, its backoff, and a 30 s Retry-After.
CHAT_WORST_CASE_S = 4 * 10.0 + 0.5 + 1.0 + 2.0 + 30.0


class LazyChat:
    """A `ChatNotifier` over every configured chat provider, built at the first `send`.

    The chat function uses it: a cold start that has nothing to say never resolves a
    webhook secret, so a missing one costs nothing until an alert needs it.
    """

    worst_case_s = CHAT_WORST_CASE_S

    def __init__(
        self,
        notifications: Notifications,
        session: requests.Session,
        secrets: Secrets,
        sleep: Callable[[float], None] = time.sleep,
        name: str = "chat",
    ) -> None:
        self.name = name
        self.notifications = notifications
        self.session = session
        self.secrets = secrets
        self.sleep = sleep
        self._notifier: ChatNotifier | None = None

    @property
    def notifier(self) -> ChatNotifier:
        if self._notifier is None:
            providers = providers_from_config(self.notifications, self.secrets)
            self._notifier = ChatNotifier(providers, self.session, sleep=self.sleep)
        return self._notifier

    def send(self, event: AlertEvent) -> None:
        notifier = self.notifier
        if notifier.providers:
            notifier.send(event)


def chat_destinations(
    notifications: Notifications,
    session: requests.Session,
    secrets: Secrets,
    sleep: Callable[[float], None] = time.sleep,
) -> list[LazyChat]:
    """One destination per configured chat provider, so the outbox records each on its own
    (a provider that took an event never gets it again when another failed)."""
    from healthwatch.notify.chat.options import WebhookOptions  # as the settings are read

    out = []
    for name, options in notifications.items():
        if isinstance(options, WebhookOptions):
            out.append(LazyChat({name: options}, session, secrets, sleep, name=name))
    return out
