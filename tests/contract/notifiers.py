"""The notifier contract: what every Notifier (SNS, local, each chat provider) does.

An adapter's test module subclasses `NotifierContract` and supplies a `destination`
fixture: a `Destination` that builds the notifier and reads back what arrived.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from healthwatch.errors import DeliveryError
from healthwatch.models import AlertEvent
from healthwatch.notify import Notifier


@dataclass
class Destination:
    """A real destination on 127.0.0.1 (or a directory) and how to look at it."""

    notifier: Notifier  # delivers to the destination
    broken: Callable[[], Notifier]  # delivers to the same kind of destination, which refuses
    received: Callable[[], list[str]]  # each delivered message, as the text that arrived
    secrets: tuple[str, ...] = ()  # what must never appear in an error (webhook tokens)


def event(**overrides: object) -> AlertEvent:
    base = AlertEvent(
        event="triggered",
        check_id="agent-service",
        check_name="Agent SDK Service",
        tier="quick",
        status="down",
        started_at="2026-11-26T20:30:00.000Z",
        at="2026-11-26T20:45:00.123Z",
        error="timeout: no answer within 5s",
        result={"check_id": "agent-service", "status": "down", "latency_ms": 5001.2},
        target="https://agent.example.com/health",
        run_id="quick-2026-11-26T20-45-00Z-3f9a",
    )
    return dataclasses.replace(base, id="", **overrides)  # type: ignore[arg-type]


class NotifierContract:
    """Subclass it as `Test...` and define a `destination` fixture."""

    def test_an_event_arrives_once_naming_the_check_and_its_state(self, destination):
        destination.notifier.send(event())
        got = destination.received()
        assert len(got) == 1
        assert "Agent SDK Service" in got[0]
        assert "down" in got[0].lower()

    def test_events_arrive_in_the_order_sent(self, destination):
        destination.notifier.send(event(check_id="first", check_name="First check"))
        destination.notifier.send(
            event(event="resolved", status="up", check_id="second", check_name="Second check")
        )
        got = destination.received()
        assert len(got) == 2
        assert "First check" in got[0] and "Second check" in got[1]

    def test_a_resolved_event_says_so(self, destination):
        destination.notifier.send(event(event="resolved", status="up"))
        (text,) = destination.received()
        assert "resolved" in text.lower() or "back up" in text.lower()

    def test_names_outside_ascii_arrive_intact(self, destination):
        destination.notifier.send(event(check_name="Café · Agent"))
        (text,) = destination.received()
        assert "Café · Agent" in text or "Caf\\u00e9 \\u00b7 Agent" in text

    def test_a_refusing_destination_raises_delivery_error_without_secrets(self, destination):
        with pytest.raises(DeliveryError) as info:
            destination.broken().send(event())
        text = str(info.value)
        assert text
        for secret in destination.secrets:
            assert secret not in text
