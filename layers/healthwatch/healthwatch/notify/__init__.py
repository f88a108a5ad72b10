"""Ports of the notification layer: where alert events go."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from healthwatch.models import AlertEvent


class Notifier(Protocol):
    """Delivers one alert event (SNS in AWS; alerts.jsonl and chat locally)."""

    def send(self, event: AlertEvent) -> None:
        """Deliver `event` or raise `DeliveryError`."""
        ...
