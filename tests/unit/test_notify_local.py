"""The alerts.jsonl destination of the local backend."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from healthwatch.models import AlertEvent
from healthwatch.notify.local import LocalNotifier, read_alerts


def make_event(i: int = 0, **overrides: Any) -> AlertEvent:
    data: dict[str, Any] = {
        "event": "triggered",
        "check_id": f"check-{i}",
        "check_name": f"Check {i} — café",
        "tier": "quick",
        "status": "down",
        "started_at": "2026-11-26T20:30:00.000Z",
        "at": f"2026-11-26T20:45:{i % 60:02d}.000Z",
        "error": "timeout",
        "result": {"status": "down", "latency_ms": None, "attempts": 3},
        "recent": [{"at": "2026-11-26T20:45:00.000Z", "status": "down"}],
    }
    data.update(overrides)
    return AlertEvent(**data)


def test_appends_one_json_line_per_event_and_creates_the_directory(tmp_path: Path) -> None:
    # Given a data directory that does not exist yet
    path = tmp_path / "data" / "nested" / "alerts.jsonl"
    notifier = LocalNotifier(path)
    # When three events are sent
    events = [make_event(i) for i in range(3)]
    for event in events:
        notifier.send(event)
    # Then the file holds three JSON objects, one a line, that read back as the events
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert [json.loads(line)["check_id"] for line in lines] == ["check-0", "check-1", "check-2"]
    assert read_alerts(path) == events


def test_appends_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    LocalNotifier(path).send(make_event(1))
    LocalNotifier(path).send(make_event(2))
    assert [e.check_id for e in read_alerts(path)] == ["check-1", "check-2"]


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    notifier = LocalNotifier(path)
    big = "x" * 20_000

    def worker(start: int) -> None:
        for i in range(start, start + 10):
            notifier.send(make_event(i, error=big))

    threads = [threading.Thread(target=worker, args=(n * 10,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = read_alerts(path)
    assert sorted(e.check_id for e in events) == sorted(f"check-{i}" for i in range(40))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, 0),  # no file yet
        ("", 0),
        ("\n\n", 0),
        ("{good}\n", 1),
        ('{good}\n{"event": "triggered", "check_id"', 1),  # torn last line
        ("[1, 2]\n{good}\n", 1),  # not an object
        ('{"event": "triggered"}\n{good}\n', 1),  # missing fields
    ],
)
def test_read_alerts_skips_what_it_cannot_read(
    tmp_path: Path, content: str | None, expected: int
) -> None:
    path = tmp_path / "alerts.jsonl"
    if content is not None:
        path.write_text(content.replace("{good}", json.dumps(make_event().to_dict())))
    assert len(read_alerts(path)) == expected
