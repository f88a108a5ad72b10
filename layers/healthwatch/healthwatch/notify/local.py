"""The local backend's Notifier: alerts.jsonl in the data directory, and chat only when asked."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from healthwatch.errors import DeliveryError
from healthwatch.models import AlertEvent
from healthwatch.notify import Notifier

log = logging.getLogger(__name__)


class LocalNotifier:
    """Appends every event to `path` (one JSON object a line), then posts it to `chat` if given.

    The line is written before chat is tried, so an event whose delivery fails is still on
    disk. A file that cannot be written does not stop chat; either failure is raised as one
    `DeliveryError` for the engine to report and queue.
    """

    def __init__(self, path: Path, chat: Notifier | None = None) -> None:
        self.path = Path(path)
        self.chat = chat

    def send(self, event: AlertEvent) -> None:
        written: str | None = None
        try:
            append_alert(self.path, event)
        except OSError as exc:
            written = f"{self.path.name}: cannot write {self.path} ({exc.strerror or exc})"
        if self.chat is not None:
            try:
                self.chat.send(event)
            except DeliveryError as exc:
                if written is None:
                    raise
                raise DeliveryError(f"{written}; {exc}") from None
        if written is not None:
            raise DeliveryError(written)


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
