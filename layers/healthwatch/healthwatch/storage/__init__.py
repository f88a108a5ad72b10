"""Ports of the storage layer; adapters live beside them (local, s3, dynamodb)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import BinaryIO, Protocol

from healthwatch.errors import ConflictError
from healthwatch.models import AlertState, Outcomes, Result, TierRun


class ResultStore(Protocol):
    """Bulk history: one JSON Lines object per run, `latest/{tier}.json`, documents by key."""

    def write_run(self, run: TierRun) -> str:
        """Store the run's results; return the key of the JSON Lines object."""
        ...

    def write_latest(self, run: TierRun) -> None:
        """`latest/{tier}.json`: the run's summary and results, after its alerts went out."""
        ...

    def put_document(self, key: str, body: bytes | BinaryIO, content_type: str) -> None:
        """Store a derived document (status page, reliability report) under `key`; `body`
        may be a file positioned at its start (a page too big to hold twice in memory)."""
        ...

    def get_document(self, key: str) -> bytes | None: ...


class HistoryStore(Protocol):
    """Recent history, queryable per check and per tier."""

    def put_results(self, run: TierRun) -> None:
        """The run's results, and its `Outcomes` rollup (what `outcomes` reads)."""
        ...

    def outcomes(self, tier: str, since: datetime, until: datetime) -> list[Outcomes]:
        """The rollups of a tier's runs started in [since, until), oldest first: one read
        per tier, however many checks it has (the SLO burn)."""
        ...

    def put_summary(self, run: TierRun) -> None:
        """The run's summary (counts, duration, alerts delivered), after delivery."""
        ...

    def query(self, check_id: str, since: datetime, until: datetime | None = None) -> list[Result]:
        """Results of one check with `started_at` in [since, until), oldest first."""
        ...

    def query_all(
        self, since: datetime, until: datetime | None = None, *, skip_run: str | None = None
    ) -> Iterator[Result]:
        """Every check's results in the window, oldest first (reports, status page); not
        those of run `skip_run` (a hook holding that run's results already)."""
        ...


class StateStore(Protocol):
    """Alert state, written only if nobody else wrote it since we read it."""

    def load(self, check_ids: Iterable[str]) -> Mapping[str, AlertState]:
        """States of these checks; a check never seen gets a fresh `AlertState` (version 0)."""
        ...

    def load_all(self) -> dict[str, AlertState]:
        """Every stored state (incidents, silences) for the reading commands, which may
        have no config to name the checks."""
        ...

    def save(self, state: AlertState) -> AlertState:
        """Write `state` if the stored version is still `state.version`; return it with the
        new version. Raise `ConflictError` when another writer got there first."""
        ...

    def save_many(self, states: Sequence[AlertState]) -> dict[str, AlertState | ConflictError]:
        """`save` for many states in as few writes as the store allows, each with its own
        version guard: a check's outcome is its saved state, or the `ConflictError` of a
        lost race. One lost race never stops the others being saved."""
        ...
