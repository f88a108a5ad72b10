"""The dispatcher: the outbox, per-destination delivery, leases, and the time budget."""

from __future__ import annotations

import dataclasses
import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from healthwatch.alerting.dispatch import Dispatcher
from healthwatch.errors import DeliveryError
from healthwatch.models import AlertEvent, AlertState, TierRun
from healthwatch.notify.local import LocalNotifier, read_alerts
from healthwatch.secrets import Secrets
from healthwatch.storage.local import LocalStore

T0 = datetime(2026, 11, 26, 20, 45, tzinfo=UTC)


def make_event(i: int = 0) -> AlertEvent:
    return AlertEvent(
        event="triggered",
        check_id="svc",
        check_name="Service — café",
        tier="quick",
        status="down",
        started_at="2026-11-26T20:30:00.000Z",
        at=f"2026-11-26T20:45:{i:02d}.000Z",
        error="timeout: no answer within 5s",
        result={"status": "down"},
    )


class Chat:
    """A chat destination that records what it took, or refuses as Slack does."""

    def __init__(self, name: str = "slack", fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.sent: list[AlertEvent] = []

    def send(self, event: AlertEvent) -> None:
        if self.fail:
            raise DeliveryError(f"{self.name}: rejected (HTTP 403): invalid_token")
        self.sent.append(event)


def decide_once(events: list[AlertEvent]):
    """A decision that opens the incident and says `events`, once."""

    def decide(base: AlertState) -> tuple[AlertState, list[AlertEvent]]:
        if base.incident_open:
            return dataclasses.replace(base), []
        new = dataclasses.replace(base)
        new.incident_open = True
        return new, list(events)

    return decide


def one_run(store, notifiers, events, owner="run-a", **kw):
    dispatcher = Dispatcher(store, notifiers, Secrets.local({}), lambda: T0, owner=owner, **kw)
    run = TierRun(owner, "quick", "2026-11-26T20:45:00.000Z", 1.0, [])
    claims = dispatcher.claim({"svc": decide_once(events)}, store.load(["svc"]))
    run.alerts += claims.produced
    problems = claims.problems + dispatcher.deliver(run, claims.states)
    return run, problems


def test_the_file_has_the_event_before_chat_and_both_get_it_once(tmp_path: Path) -> None:
    store, path = LocalStore(tmp_path), tmp_path / "alerts.jsonl"
    seen_on_disk = []

    class Checking(Chat):
        def send(self, event: AlertEvent) -> None:
            seen_on_disk.append(len(read_alerts(path)))
            super().send(event)

    chat = Checking()
    run, problems = one_run(store, [LocalNotifier(path), chat], [make_event()])
    assert problems == [] and seen_on_disk == [1]
    assert [e.id for e in chat.sent] == [make_event().id] and len(read_alerts(path)) == 1
    assert [e.id for e in run.delivered] == [make_event().id]
    assert store.load(["svc"])["svc"].pending_events == []


def test_a_failed_chat_keeps_the_event_on_disk_and_retries_chat_alone(tmp_path: Path) -> None:
    store, path = LocalStore(tmp_path), tmp_path / "alerts.jsonl"
    slack, discord = Chat("slack", fail=True), Chat("discord")
    run, problems = one_run(store, [LocalNotifier(path), slack, discord], [make_event()])
    assert len(problems) == 1 and "invalid_token" in problems[0]
    assert len(read_alerts(path)) == 1 and len(discord.sent) == 1
    (pending,) = store.load(["svc"])["svc"].outbox()
    assert pending.delivered == ["alerts.jsonl", "discord"] and pending.tries == 1
    assert pending.owner == ""  # a run that finished leaves it to the next at once
    # The next run delivers it to Slack only: nothing twice anywhere.
    slack.fail = False
    run, problems = one_run(store, [LocalNotifier(path), slack, discord], [], owner="run-b")
    assert problems == []
    assert len(slack.sent) == 1 and len(discord.sent) == 1 and len(read_alerts(path)) == 1
    assert [e.id for e in run.delivered] == [make_event().id]  # counted by the run that sent it
    assert store.load(["svc"])["svc"].pending_events == []


def test_an_event_keeps_its_id_and_time_through_redelivery(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    chat = Chat(fail=True)
    one_run(store, [chat], [make_event(7)])
    chat.fail = False
    one_run(store, [chat], [], owner="run-b")
    (sent,) = chat.sent
    assert sent.id == make_event(7).id and sent.at == make_event(7).at


def test_a_live_lease_is_left_alone_and_a_lapsed_or_dead_one_taken(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    chat = Chat()
    # Run A claims the event and dies before delivering (its lease stays in the outbox).
    a = Dispatcher(store, [chat], Secrets.local({}), lambda: T0, owner="run-a")
    a.claim({"svc": decide_once([make_event()])}, store.load(["svc"]))
    # Run B, while A's lease holds and A may be alive: not B's to send.
    run, _ = one_run(store, [chat], [], owner="run-b")
    assert chat.sent == [] and run.undelivered == []
    # Run C knows A is gone (locally: its process is dead): C sends it, once.
    run, problems = one_run(store, [chat], [], owner="run-c", owner_gone=lambda o: o == "run-a")
    assert problems == [] and len(chat.sent) == 1
    # Without that knowledge, a lapsed lease is taken too.
    a.claim({"svc": functools.partial(_reopen, event=make_event(9))}, store.load(["svc"]))
    later = Dispatcher(store, [chat], Secrets.local({}), lambda: T0 + timedelta(hours=1))
    claims = later.claim({"svc": lambda s: (dataclasses.replace(s), [])}, store.load(["svc"]))
    later.deliver(TierRun("d", "quick", "", 1.0, []), claims.states)
    assert [e.id for e in chat.sent] == [make_event().id, make_event(9).id]


def _reopen(base: AlertState, *, event: AlertEvent) -> tuple[AlertState, list[AlertEvent]]:
    return dataclasses.replace(base), [event]


def test_what_does_not_fit_the_time_left_stays_pending(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    chat = Chat()
    chat.worst_case_s = 30.0  # type: ignore[attr-defined]
    run, problems = one_run(store, [chat], [make_event()], time_left=lambda: 10.0)
    assert chat.sent == [] and any("out of time" in p for p in problems)
    assert len(store.load(["svc"])["svc"].outbox()) == 1
    run, problems = one_run(store, [chat], [], owner="run-b")
    assert len(chat.sent) == 1 and problems == []


def test_an_event_pending_for_runs_is_a_problem_of_the_run(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    chat = Chat(fail=True)
    problems: list[str] = []
    for i in range(3):
        _, problems = one_run(store, [chat], [make_event()] if i == 0 else [], owner=f"r{i}")
    assert any("pending for 3 runs" in p for p in problems)
