"""Messages on the alert topic: our events, and CloudWatch's alarms about the monitor."""

from __future__ import annotations

import json

import pytest
from healthwatch.models import AlertEvent
from healthwatch.notify.sns_message import SELF_TIER, alert_from_message


def _alarm(new: str, old: str) -> str:
    return json.dumps(
        {
            "AlarmName": "hw-QuickHeartbeatAlarm",
            "AlarmDescription": "No heartbeat from quick",
            "NewStateValue": new,
            "OldStateValue": old,
            "NewStateReason": "Threshold Crossed",
            "StateChangeTime": "2026-11-26T21:30:00.123+0000",
            "Trigger": {"Namespace": "Healthwatch", "MetricName": "Heartbeat"},
        }
    )


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        ("ALARM", "OK", ("triggered", "down")),
        ("OK", "ALARM", ("resolved", "up")),
        ("INSUFFICIENT_DATA", "OK", None),
        ("OK", "INSUFFICIENT_DATA", None),
    ],
)
def test_alarm_states(new, old, expected):
    event = alert_from_message(_alarm(new, old))
    if expected is None:
        assert event is None
        return
    assert event is not None and (event.event, event.status) == expected
    assert event.tier == SELF_TIER and event.check_id == "hw-QuickHeartbeatAlarm"
    assert event.at == "2026-11-26T21:30:00.123Z"
    assert event.target == "cloudwatch:Healthwatch/Heartbeat"


def test_our_own_event_round_trips():
    original = AlertEvent(
        event="triggered",
        check_id="svc",
        check_name="Svc",
        tier="quick",
        status="down",
        started_at="a",
        at="b",
        error="timeout: x",
        result={},
    )
    assert alert_from_message(json.dumps(original.to_dict())) == original


def test_not_an_object_is_an_error():
    with pytest.raises(ValueError):
        alert_from_message("[1, 2]")


def test_a_heartbeat_alarm_says_the_monitor_itself_has_not_run():
    import json as _json
    from pathlib import Path

    from healthwatch.notify import wording

    record = _json.loads(
        (Path(__file__).parents[2] / "events" / "sns-cloudwatch-alarm.json").read_text()
    )
    message = _json.loads(record["Records"][0]["Sns"]["Message"])
    firing = alert_from_message(_json.dumps(message))
    assert firing is not None
    assert wording.headline(firing) == (
        "No heartbeat from the quick tier for 30m: the monitor itself has not run"
    )
    assert "is DOWN" not in wording.headline(firing)
    cleared = alert_from_message(
        _json.dumps({**message, "NewStateValue": "OK", "OldStateValue": "ALARM"})
    )
    assert cleared is not None and wording.headline(cleared).startswith(
        "Back to normal: no heartbeat"
    )
