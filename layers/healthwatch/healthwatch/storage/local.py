"""The embedded local backend: a directory with S3's key layout and an atomic state file."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

from healthwatch.codec import dumps
from healthwatch.errors import ConflictError
from healthwatch.models import AlertState, Outcomes, Result, TierRun, parse_iso
from healthwatch.storage.keys import (
    RESULTS_PREFIX,
    ROLLUPS_PREFIX,
    jsonl_parts,
    latest_parts,
    latest_run_key,
    result_key,
    rollup_key,
)


def atomic_write(path: Path, data: bytes | BinaryIO | Iterable[bytes]) -> None:
    """Write `data` (bytes, a file read to its end, or chunks) so that `path` is either the
    old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, bytes | bytearray):
                fh.write(data)
            elif hasattr(data, "read"):
                shutil.copyfileobj(cast(BinaryIO, data), fh, 1 << 20)
            else:
                fh.writelines(cast(Iterable[bytes], data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class LocalStore:
    """ResultStore, HistoryStore and StateStore over one data directory."""

    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir)
        self.state_path = self.root / "state.json"
        self.alerts_path = self.root / "alerts.jsonl"

    # ResultStore
    def write_run(self, run: TierRun) -> str:
        key = result_key(run)
        atomic_write(self.root / key, jsonl_parts(run))
        return key

    def write_latest(self, run: TierRun) -> None:
        atomic_write(self.root / latest_run_key(run), latest_parts(run))

    def put_document(self, key: str, body: bytes | BinaryIO, content_type: str) -> None:
        atomic_write(self._path(key), body)

    def get_document(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.exists() else None

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not str(path).startswith(str(self.root.resolve())):
            raise ValueError(f"key {key!r} is outside the data directory")
        return path

    # HistoryStore
    def put_results(self, run: TierRun) -> None:
        """The run's rollup; the results themselves are read from the result files."""
        body = dumps(Outcomes.of(run).to_dict())
        atomic_write(self.root / rollup_key(run), body)

    def outcomes(self, tier: str, since: datetime, until: datetime) -> list[Outcomes]:
        out = []
        for part in _day_dirs(self.root / ROLLUPS_PREFIX / f"tier={tier}", since, until):
            for path in sorted(part.glob("*.json")):
                rollup = Outcomes.from_dict(json.loads(path.read_bytes()))
                if since <= parse_iso(rollup.started_at) < until:
                    out.append(rollup)
        out.sort(key=lambda o: o.started_at)
        return out

    def put_summary(self, run: TierRun) -> None:
        """Nothing extra: `latest/{tier}.json` holds the last run's summary."""

    def query(self, check_id: str, since: datetime, until: datetime | None = None) -> list[Result]:
        return [r for r in self.query_all(since, until) if r.check_id == check_id]

    def query_all(
        self, since: datetime, until: datetime | None = None, *, skip_run: str | None = None
    ) -> Iterator[Result]:
        until = until or datetime.now(UTC) + timedelta(seconds=1)
        base = self.root / RESULTS_PREFIX
        if not base.exists():
            return iter(())
        records = []
        for tier_dir in sorted(base.glob("tier=*")):
            for part in _day_dirs(tier_dir, since, until):
                for path in sorted(part.glob("*.json")):
                    with path.open(encoding="utf-8") as lines:  # a line at a time
                        for line in lines:
                            if not line.strip():
                                continue
                            record = json.loads(line)
                            if skip_run is not None and record.get("run_id") == skip_run:
                                continue
                            at = parse_iso(record["started_at"])
                            if since <= at < until:
                                records.append(Result.from_dict(record))
        records.sort(key=lambda r: r.started_at)
        return iter(records)

    # StateStore
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "state.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_states(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8") or "{}")
        return data

    def load(self, check_ids: Iterable[str]) -> Mapping[str, AlertState]:
        with self._locked():
            stored = self._read_states()
        return {
            cid: AlertState.from_dict(stored[cid]) if cid in stored else AlertState(check_id=cid)
            for cid in check_ids
        }

    def load_all(self) -> dict[str, AlertState]:
        with self._locked():
            stored = self._read_states()
        return {cid: AlertState.from_dict(data) for cid, data in stored.items()}

    def save(self, state: AlertState) -> AlertState:
        got = self.save_many([state])[state.check_id]
        if isinstance(got, ConflictError):
            raise got
        return got

    def save_many(self, states: Sequence[AlertState]) -> dict[str, AlertState | ConflictError]:
        """Like `save` for each state, with one lock and one file write for the batch."""
        out: dict[str, AlertState | ConflictError] = {}
        with self._locked():
            stored = self._read_states()
            for state in states:
                held = stored.get(state.check_id)
                current = (
                    held.version if isinstance(held, AlertState) else (held or {}).get("version", 0)
                )
                if current != state.version:
                    out[state.check_id] = ConflictError(
                        f"state of {state.check_id} is at version {current}, "
                        f"expected {state.version}"
                    )
                    continue
                saved = state.at_version(state.version + 1)
                stored[state.check_id] = saved
                out[state.check_id] = saved
            if any(isinstance(v, AlertState) for v in out.values()):
                # Written state by state: 10,000 states are 7 MB of JSON, never all held.
                atomic_write(self.state_path, _state_file(stored))
        return out


def _state_file(stored: Mapping[str, AlertState | dict[str, Any]]) -> Iterator[bytes]:
    """`state.json`, in chunks: one object, check id to state, keys sorted at every level."""
    yield b"{"
    for i, check_id in enumerate(sorted(stored)):
        state = stored[check_id]
        record = state.to_dict() if isinstance(state, AlertState) else state
        yield (b"," if i else b"") + dumps(check_id) + b":" + dumps(record, sort_keys=True)
    yield b"}"


def _day_dirs(base: Path, since: datetime, until: datetime) -> list[Path]:
    """The `dt=YYYY-MM-DD` partitions of `base` that [since, until) touches, that exist."""
    days = [since.date() + timedelta(days=i) for i in range((until.date() - since.date()).days + 1)]
    parts = [base / f"dt={day:%Y-%m-%d}" for day in days]
    return [p for p in parts if p.is_dir()]
