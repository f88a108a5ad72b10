"""The email subject and body: what a person reads on a phone."""

from __future__ import annotations

from typing import Any

import pytest
from healthwatch.models import AlertEvent
from healthwatch.notify import email, wording


def make_event(**overrides: Any) -> AlertEvent:
    data: dict[str, Any] = {
        "event": "triggered",
        "check_id": "agent-service",
        "check_name": "Agent SDK Service",
        "tier": "quick",
        "status": "down",
        "started_at": "2026-11-26T20:30:00.000Z",
        "at": "2026-11-26T20:45:00.123Z",
        "error": "connection_refused: [Errno 111] Connection refused",
        "result": {
            "status": "down",
            "latency_ms": 12.4,
            "http_status": None,
            "attempts": 3,
            "error": "connection_refused: [Errno 111] Connection refused",
            "conditions": [
                {
                    "condition": "[CONNECTED] == true",
                    "success": False,
                    "detail": "[CONNECTED] (false) == true",
                },
            ],
        },
        "severity": "critical",
        "target": "https://hotdash-agent-service.fly.dev/health",
        "run_id": "quick-2026-11-26T20-45-00Z-3f9a",
        "recent": [
            {"at": f"2026-11-26T{h}:{m}:00.000Z", "status": s, "latency_ms": ms, "error": err}
            for h, m, s, ms, err in [
                ("19", "45", "up", 281.0, None),
                ("20", "00", "up", 290.5, None),
                ("20", "15", "up", 300.0, None),
                ("20", "30", "down", 12.0, "connection_refused"),
                ("20", "45", "down", 12.4, "connection_refused"),
                ("19", "30", "up", 250.0, None),
            ]
        ],
    }
    data.update(overrides)
    return AlertEvent(**data)


SUBJECTS = [
    # overrides, expected subject
    ({}, "[DOWN] Agent SDK Service (quick)"),
    ({"status": "degraded"}, "[DEGRADED] Agent SDK Service (quick)"),
    ({"event": "resolved", "status": "up"}, "[RESOLVED] Agent SDK Service (quick)"),
    ({"event": "reminder"}, "[REMINDER] Agent SDK Service (quick)"),
    ({"event": "slo_burn", "tier": "integrations"}, "[SLO BURN] Agent SDK Service (integrations)"),
    ({"check_name": "Café\nService\t(EU)"}, "[DOWN] Cafe Service (EU) (quick)"),
    ({"check_name": ""}, "[DOWN] agent-service (quick)"),
]


@pytest.mark.parametrize(("overrides", "expected"), SUBJECTS)
def test_subject(overrides: dict[str, Any], expected: str) -> None:
    assert email.subject(make_event(**overrides)) == expected


@pytest.mark.parametrize("event", ["triggered", "resolved", "reminder", "slo_burn"])
@pytest.mark.parametrize(
    "name",
    ["N" * 300, "Ωμέγα " * 60, "x" * 99, "a b " * 80],
    ids=["ascii", "greek", "99", "spaces"],
)
def test_subject_stays_under_100_ascii_characters(event: str, name: str) -> None:
    subject = email.subject(make_event(event=event, check_name=name, tier="comprehensive"))
    assert len(subject) < 100
    assert subject.isascii() and subject.isprintable()
    assert subject.endswith("... (comprehensive)")


def test_subject_survives_an_absurd_tier_name() -> None:
    subject = email.subject(make_event(tier="t" * 200))
    assert len(subject) < 100 and subject.startswith("[DOWN] Agent SDK Service")


def test_triggered_body_says_what_failed_since_when_and_what_to_do() -> None:
    text = email.body(make_event())
    lines = text.splitlines()
    assert lines[0] == "Agent SDK Service is DOWN."
    for expected in (
        "connection_refused: [Errno 111] Connection refused",
        "[CONNECTED] (false) == true",
        "Since:    2026-11-26 20:30 UTC (15m before this alert)",
        "Target:   https://hotdash-agent-service.fly.dev/health",
        "Attempts: 3 in the last run",
        "Open the target: https://hotdash-agent-service.fly.dev/health",
        "healthwatch history --check agent-service",
        "run quick-2026-11-26T20-45-00Z-3f9a",
    ):
        assert expected in text, expected
    # What failed comes before the reference details
    assert text.index("What failed") < text.index("Check:")


def test_body_shows_the_last_five_results_newest_first() -> None:
    text = email.body(make_event())
    section = text.split("Last results (newest first):\n")[1].split("\n\n")[0].splitlines()
    assert len(section) == 5
    assert section[0].strip() == "11-26 20:45  down  12 ms  connection_refused"
    assert section[-1].strip().startswith("11-26 19:45  up  281 ms")


def test_body_lines_fit_a_phone() -> None:
    # Short lines except where a URL, command or error must stay whole
    for line in email.body(make_event()).splitlines():
        assert len(line) <= 90 or "http" in line or "healthwatch" in line or "connection" in line


BODIES = [
    # overrides, first line, must contain, must not contain
    (
        {"event": "resolved", "status": "up", "at": "2026-11-26T21:12:00.000Z", "error": None},
        "Agent SDK Service is back up after 42m down.",
        ["Down:     2026-11-26 20:30 UTC to 2026-11-26 21:12 UTC (42m)", "Nothing to do"],
        ["What failed", "Open the target"],
    ),
    (
        {"event": "reminder", "at": "2026-11-27T02:30:00.000Z"},
        "Agent SDK Service is still DOWN, for 6h now.",
        ["What failed", "(6h before this alert)"],
        [],
    ),
    (
        {
            "event": "slo_burn",
            "status": "degraded",
            "error": None,
            "result": {},
            "details": {"burn_rate": 14.9, "window": "1h", "nested": {"x": 1}},
        },
        "Agent SDK Service is burning its error budget.",
        ["burn rate: 14.9", "window: 1h", "healthwatch report --since 30d"],
        ["nested", "Since:"],
    ),
    (
        {"target": "", "recent": [], "result": {}, "run_id": "", "error": None},
        "Agent SDK Service is DOWN.",
        ["See its history"],
        ["Target:", "Last results", "Open the target", "· run"],
    ),
    (
        {"started_at": "garbage", "recent": [{"at": None, "status": "down"}]},
        "Agent SDK Service is DOWN.",
        ["Since:    garbage", "?  down"],
        [],
    ),
]


@pytest.mark.parametrize(("overrides", "first", "present", "absent"), BODIES)
def test_body(overrides: dict[str, Any], first: str, present: list[str], absent: list[str]) -> None:
    text = email.body(make_event(**overrides))
    assert text.splitlines()[0] == first
    for expected in present:
        assert expected in text, expected
    for unexpected in absent:
        assert unexpected not in text, unexpected


def test_a_huge_error_is_cut_to_one_readable_line() -> None:
    text = email.body(make_event(error="boom\n" * 10_000))
    error_line = text.split("What failed:\n")[1].splitlines()[0]
    assert len(error_line) <= 502 and error_line.endswith("…")


def test_slo_burn_resolved_is_not_worded_as_back_up():
    from healthwatch.models import AlertEvent

    event = AlertEvent(
        event="resolved",
        check_id="svc",
        check_name="Svc",
        tier="quick",
        status="up",
        started_at="2026-11-26T10:00:00.000Z",
        at="2026-11-26T11:00:00.000Z",
        error=None,
        result={},
        details={"incident": "slo_burn"},
    )
    line = wording.headline(event)
    assert line.startswith("Svc is no longer burning its error budget") and "back up" not in line
    assert "after 1h" in line
