"""Chat delivery whose webhook secrets are resolved at the first alert, not at start-up."""

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


class LazyChat:
    """A `Notifier` over the configured chat providers, built at the first `send`.

    A run (or a chat function's cold start) that has nothing to say never resolves a webhook
    secret, so a missing one costs nothing until an alert needs it.
    """

    def __init__(
        self,
        notifications: Notifications,
        session: requests.Session,
        secrets: Secrets,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
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
