"""The notifier contract over the local backend's alerts.jsonl."""

from __future__ import annotations

import pytest
from healthwatch.notify.local import LocalNotifier

from tests.contract.notifiers import Destination, NotifierContract


class TestLocal(NotifierContract):
    @pytest.fixture
    def destination(self, tmp_path):
        path = tmp_path / "data" / "alerts.jsonl"

        def received() -> list[str]:
            return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

        def broken() -> LocalNotifier:  # the data directory is a file: nothing can be written
            blocker = tmp_path / "blocked"
            blocker.write_text("not a directory")
            return LocalNotifier(blocker / "alerts.jsonl")

        yield Destination(notifier=LocalNotifier(path), broken=broken, received=received)
