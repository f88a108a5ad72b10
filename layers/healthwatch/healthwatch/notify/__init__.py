"""Ports of the notification layer: where alert events go."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from healthwatch.models import AlertEvent


class Notifier(Protocol):
    """One destination of alert events (SNS in AWS; alerts.jsonl and each chat provider
    locally). `name` is what the outbox records once the destination took an event, so it
    is stable across runs; `worst_case_s`, where given, bounds one `send`, retries included,
    and the dispatcher sends only while that much time is left."""

    name: str

    def send(self, event: AlertEvent) -> None:
        """Deliver `event` or raise `DeliveryError`."""
        ...
