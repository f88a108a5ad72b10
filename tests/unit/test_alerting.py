"""The alert state machine, scenario by scenario: thresholds, resolve, reminders, maintenance."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from healthwatch import alerting, records
from healthwatch.config import MaintenanceWindow
from healthwatch.models import AlertState

from tests.helpers import config, result

BASE = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _check(failure_threshold=3, success_threshold=1, reminder="6h", retry="10s"):
    cfg = config(f"""
        defaults: {{failure_threshold: {failure_threshold}, success_threshold: {success_threshold},
                    reminder_interval: {reminder}, retry_interval: {retry}}}
        tiers: {{quick: {{schedule: rate(15 minutes)}}}}
        checks: [{{id: svc, tier: quick, url: "http://127.0.0.1:9/health"}}]
    """)
    return cfg.check("svc")


# Each step: (status, attempts, minutes after BASE); expected: events per step.
SCENARIOS = [
    ("hard down alerts in the first run", dict(), [("down", 3, 0)], [["triggered"]]),
    ("a blip alerts nobody", dict(), [("down", 1, 0), ("up", 1, 15)], [[], []]),
    (
        "failures carry over between runs",
        dict(),
        [("down", 1, 0), ("down", 1, 15), ("down", 1, 30)],
        [[], [], ["triggered"]],
    ),
    (
        "one alert per incident (reminders off)",
        dict(reminder="0"),
        [("down", 3, 0), ("down", 1, 15), ("down", 1, 30)],
        [["triggered"], [], []],
    ),
    ("recovery resolves", dict(), [("down", 3, 0), ("up", 1, 15)], [["triggered"], ["resolved"]]),
    (
        "success threshold needs passing runs in a row",
        dict(success_threshold=2),
        [("down", 3, 0), ("up", 1, 15), ("down", 1, 30), ("up", 1, 45), ("up", 1, 60)],
        [["triggered"], [], [], [], ["resolved"]],
    ),
    (
        "degraded never opens an incident",
        dict(),
        [("degraded", 1, 0), ("degraded", 1, 15), ("degraded", 1, 30), ("degraded", 1, 45)],
        [[], [], [], []],
    ),
    (
        "degraded counts as recovered",
        dict(),
        [("down", 3, 0), ("degraded", 1, 15)],
        [["triggered"], ["resolved"]],
    ),
    (
        "reminders every interval while down",
        dict(reminder="1h"),
        [("down", 3, 0), ("down", 1, 30), ("down", 1, 60), ("down", 1, 90), ("down", 1, 120)],
        [["triggered"], [], ["reminder"], [], ["reminder"]],
    ),
    ("threshold 1", dict(failure_threshold=1), [("down", 1, 0)], [["triggered"]]),
    ("up stays quiet", dict(), [("up", 1, 0), ("up", 1, 15)], [[], []]),
    (
        "a new incident after resolve",
        dict(),
        [("down", 3, 0), ("up", 1, 15), ("down", 3, 30)],
        [["triggered"], ["resolved"], ["triggered"]],
    ),
]


@pytest.mark.parametrize(
    ("name", "policy", "steps", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
def test_scenarios(name, policy, steps, expected):
    check = _check(**policy)
    state = AlertState(check_id="svc")
    for (status, attempts, minutes), want in zip(steps, expected, strict=True):
        at = BASE + timedelta(minutes=minutes)
        new, events = alerting.apply(
            state, result(status=status, attempts=attempts, at=at, error="timeout: x"), check, at
        )
        assert [e.event for e in events] == want, f"step at +{minutes}m"
        state = new


def test_event_carries_incident_start_and_last_results():
    check = _check()
    state = AlertState(check_id="svc")
    state, _ = alerting.apply(
        state, result(status="down", at=BASE, error="timeout: a"), check, BASE
    )
    later = BASE + timedelta(minutes=15)
    state, events = alerting.apply(
        state, result(status="down", attempts=2, at=later, error="timeout: b"), check, later
    )
    (event,) = events
    assert event.event == "triggered"
    assert event.started_at == "2026-11-26T12:00:00.000Z"  # when failing began, not when alerted
    assert event.at == "2026-11-26T12:15:00.000Z"
    assert event.error == "timeout: b"
    assert [r["error"] for r in event.recent] == ["timeout: a", "timeout: b"]
    assert event.result["attempts"] == 2
    end = BASE + timedelta(minutes=30)
    state, (resolved,) = alerting.apply(state, result(status="up", at=end), check, end)
    assert resolved.event == "resolved" and resolved.started_at == event.started_at
    assert not state.incident_open and state.incident_started_at is None


def test_apply_does_not_mutate_input_state():
    check = _check()
    state = AlertState(check_id="svc")
    alerting.apply(state, result(status="down", attempts=3), check, BASE)
    assert state.consecutive_failures == 0 and state.recent == []


@pytest.mark.parametrize(
    ("failures", "open_", "retry", "expected"),
    [
        (0, False, "10s", 3),
        (1, False, "10s", 2),
        (2, False, "10s", 1),
        (5, False, "10s", 1),
        (0, True, "10s", 1),
        (0, False, "0", 1),
    ],
)
def test_attempts_allowed(failures, open_, retry, expected):
    state = AlertState(check_id="svc", consecutive_failures=failures, incident_open=open_)
    assert alerting.attempts_allowed(state, _check(retry=retry)) == expected


def _window(**kw):
    return records.validate(MaintenanceWindow, kw)


@pytest.mark.parametrize(
    ("window", "now", "inside"),
    [
        (dict(start="2026-11-26T11:00:00Z", end="2026-11-26T13:00:00Z"), BASE, True),
        (dict(start="2026-11-26T12:00:01Z", end="2026-11-26T13:00:00Z"), BASE, False),
        (
            dict(start="2026-11-26T10:00:00Z", end="2026-11-26T12:00:00Z"),
            BASE,
            False,
        ),  # end exclusive
        # 2026-11-26 is a Thursday. 13:30 in Berlin (UTC+1 in November) is 12:30 UTC.
        (
            dict(every=["thu"], at="13:00", duration="1h", timezone="Europe/Berlin"),
            BASE + timedelta(minutes=30),
            True,
        ),
        (
            dict(every=["thu"], at="13:00", duration="1h", timezone="Europe/Berlin"),
            BASE + timedelta(minutes=-30),
            False,
        ),
        (
            dict(every=["fri"], at="13:00", duration="1h", timezone="Europe/Berlin"),
            BASE + timedelta(minutes=30),
            False,
        ),
        # A window that starts Wednesday 23:00 and lasts 3 hours still covers Thursday 01:00.
        (
            dict(every=["wed"], at="23:00", duration="3h", timezone="UTC"),
            datetime(2026, 11, 26, 1, 0, tzinfo=UTC),
            True,
        ),
        (
            dict(every=["day"], at="02:00", duration="30m", timezone="America/New_York"),
            datetime(2026, 11, 26, 7, 15, tzinfo=UTC),
            True,
        ),  # 02:15 in New York (UTC-5)
    ],
)
def test_maintenance_windows(window, now, inside):
    found = alerting.active_window([_window(**window)], "svc", "quick", now)
    assert (found is not None) is inside


def test_maintenance_scoped_to_checks_and_tiers():
    w = _window(start="2026-11-26T11:00:00Z", end="2026-11-26T13:00:00Z", checks=["other"])
    assert alerting.active_window([w], "svc", "quick", BASE) is None
    w = _window(start="2026-11-26T11:00:00Z", end="2026-11-26T13:00:00Z", tiers=["quick"])
    assert alerting.active_window([w], "svc", "quick", BASE) is w
    assert alerting.active_window([w], "svc", "comprehensive", BASE) is None


def test_maintenance_suppresses_trigger_and_reminders_but_not_resolve():
    check = _check(reminder="1h")
    window = _window(start="2026-11-26T00:00:00Z", end="2026-11-27T00:00:00Z")
    state = AlertState(check_id="svc")
    state, events = alerting.apply(state, result(status="down", attempts=3), check, BASE, window)
    assert events == [] and not state.incident_open
    # The window ends with the check still down: the next run alerts at once.
    after = BASE + timedelta(hours=13)
    state, events = alerting.apply(state, result(status="down", at=after), check, after)
    assert [e.event for e in events] == ["triggered"]
    # A reminder falls inside a new window: suppressed. Recovery inside it: resolved is sent.
    later = after + timedelta(hours=2)
    state, events = alerting.apply(state, result(status="down", at=later), check, later, window)
    assert events == []
    state, events = alerting.apply(state, result(status="up", at=later), check, later, window)
    assert [e.event for e in events] == ["resolved"]


def test_a_states_written_out_dict_is_the_generic_one():
    # AlertState.to_dict is written out for speed: it must say what Record.to_dict says
    from healthwatch.models import AlertState, Record

    state = AlertState(
        "svc",
        status="down",
        consecutive_failures=2,
        recent=[{"status": "down", "at": "x"}],
        probe_memory={"restarts": {"m1": 2}},
        pending_events=[{"event": {"id": "e"}, "delivered": ["sns"]}],
        config_problem="secret: x",
        tier="quick",
        version=7,
    )
    assert state.to_dict() == Record.to_dict(state)
    copy = state.copy()
    copy.recent.append({})
    copy.probe_memory["x"] = 1
    copy.pending_events.clear()
    assert copy != state and state.to_dict() == Record.to_dict(state)
    # every field, written out: a state with no field at its default copies whole
    every = AlertState(
        **{
            f.name: getattr(state, f.name)
            if getattr(state, f.name) != getattr(AlertState("x"), f.name)
            else {"failing_since": "t1", "incident_open": True, "incident_started_at": "t2",
                  "incident_kind": "down", "last_notified_at": "t3", "last_result_at": "t4",
                  "consecutive_successes": 4}[f.name]
            for f in dataclasses.fields(AlertState)
        }
    )  # fmt: skip
    assert all(
        getattr(every, f.name) != getattr(AlertState("x"), f.name)
        for f in dataclasses.fields(AlertState)
    )
    assert every.copy() == dataclasses.replace(every)
    assert AlertState.from_dict(state.to_dict()) == state
