"""Silences: `healthwatch silence CHECK --for 2h` without a redeploy.

Kept in the state store as one record, `silences:` (`:` never occurs in a check id), so
they are version-guarded like alert state and live on every backend. The engine treats
an active silence as a maintenance window: results are recorded and marked
(`details.silenced`), `triggered` and reminders are held back, `resolved` still goes out.
A silence's target is a check id, a tier name, or `*` (everything).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from healthwatch.errors import ConflictError, StoreError
from healthwatch.models import AlertState, parse_iso

if TYPE_CHECKING:
    from healthwatch.storage import StateStore

SILENCES_ID = "silences:"
EVERYTHING = "*"
SAVE_ATTEMPTS = 5


@dataclass(frozen=True)
class Silence:
    target: str  # a check id, a tier, or "*"
    until: str  # ISO time it ends
    reason: str = ""
    created_at: str = ""

    @property
    def name(self) -> str:
        """As a maintenance window's name: what a held-back alert is put down to."""
        return f"silenced until {self.until}" + (f": {self.reason}" if self.reason else "")

    def active(self, now: datetime) -> bool:
        return now < parse_iso(self.until)

    def covers(self, check_id: str, tier: str) -> bool:
        return self.target in (check_id, tier, EVERYTHING)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def silences_in(state: AlertState) -> list[Silence]:
    items = state.probe_memory.get("silences") or []
    return [Silence(**{k: str(v) for k, v in item.items()}) for item in items]


def active(silences: list[Silence], now: datetime) -> list[Silence]:
    return [s for s in silences if s.active(now)]


def covering(silences: list[Silence], check_id: str, tier: str, now: datetime) -> Silence | None:
    """The active silence that covers this check, the one ending last if several do."""
    found = [s for s in silences if s.covers(check_id, tier) and s.active(now)]
    return max(found, key=lambda s: s.until) if found else None


def change(
    states: StateStore,
    edit: Callable[[list[Silence]], list[Silence]],
    now: datetime,
) -> list[Silence]:
    """Apply `edit` to the stored silences (expired ones dropped) and save, re-reading on
    a lost race; the silences as saved."""
    for _ in range(SAVE_ATTEMPTS):
        state = states.load([SILENCES_ID])[SILENCES_ID]
        kept = edit(active(silences_in(state), now))
        new = dataclasses.replace(
            state, probe_memory={**state.probe_memory, "silences": [s.to_dict() for s in kept]}
        )
        try:
            states.save(new)
        except ConflictError:
            continue
        return kept
    raise StoreError("the silences kept changing under us; nothing was saved")


def add(states: StateStore, silence: Silence, now: datetime) -> list[Silence]:
    """Silence `silence.target` (replacing an earlier silence of the same target)."""
    return change(
        states, lambda kept: [s for s in kept if s.target != silence.target] + [silence], now
    )


def remove(states: StateStore, target: str, now: datetime) -> tuple[bool, list[Silence]]:
    """End the silence of `target`; whether there was one."""
    had: list[bool] = []

    def edit(kept: list[Silence]) -> list[Silence]:
        had.append(any(s.target == target for s in kept))
        return [s for s in kept if s.target != target]

    saved = change(states, edit, now)
    return had[-1], saved
