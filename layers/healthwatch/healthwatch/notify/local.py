"""The local backend's Notifier: alerts.jsonl in the data directory, and chat only when asked."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from healthwatch.errors import DeliveryError
from healthwatch.models import AlertEvent

log = logging.getLogger(__name__)


class LocalNotifier:
    """The `alerts.jsonl` destination: appends every event to `path`, one JSON object a line.

    Listed first among the local destinations, so an event is on disk before chat is tried;
    a file that cannot be written is a `DeliveryError` like any other destination's.
    """

    name = "alerts.jsonl"
    worst_case_s = 1.0
    RECENT_BYTES = 1 << 20  # where a redelivered event would be: it was appended lately

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, event: AlertEvent) -> None:
        """Append `event` unless its id is already among the recent lines: a run killed
        after appending but before recording it in the outbox does not cause a repeat."""
        try:
            if self._has(event.id):
                return
            append_alert(self.path, event)
        except OSError as exc:
            raise DeliveryError(
                f"{self.path.name}: cannot write {self.path} ({exc.strerror or exc})"
            ) from None

    def _has(self, event_id: str) -> bool:
        if not event_id or not self.path.exists():
            return False
        with open(self.path, "rb") as f:
            f.seek(max(0, self.path.stat().st_size - self.RECENT_BYTES))
            tail = f.read()
        return f'"id": "{event_id}"'.encode() in tail


def append_alert(path: Path, event: AlertEvent) -> None:
    """One line, one `write` on an O_APPEND descriptor, fsynced: lines never interleave or tear."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(event.to_dict(), ensure_ascii=False, sort_keys=True, default=str) + "\n"
    data = line.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        while written < len(data):  # only on a full disk or a signal; finish the line
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


def read_alerts(path: Path) -> list[AlertEvent]:
    """Every event in `path`, oldest first; no file means no alerts.

    A line that is not a JSON object (a write cut short by a crash) is skipped with a
    warning rather than hiding every other alert.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            events.append(AlertEvent.from_dict(data))
        except (ValueError, TypeError) as exc:
            log.warning("%s line %d: skipped an unreadable alert (%s)", path, number, exc)
    return events
