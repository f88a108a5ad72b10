"""`incidents`, `silence` and `unsilence`: what is open now, and holding alerts back.

They work from the state store alone (the config, when there is one, gives names and
the valid targets), so a laptop can ask the deployed monitor with `--backend aws`.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from healthwatch.alerting import silences as silencing
from healthwatch.alerting.slo import SILENT, STATE_PREFIX
from healthwatch.cli.running import optional_config, stored
from healthwatch.cli.terminal import Terminal
from healthwatch.durations import format_duration, parse_duration
from healthwatch.errors import UsageError
from healthwatch.models import AlertState, iso, parse_iso

if TYPE_CHECKING:
    from healthwatch.config import Config
    from healthwatch.storage import StateStore

MAX_SILENCE_S = 30 * 86400  # a silence is for a deploy or an outage, not a way to switch off


@dataclass
class Incident:
    check_id: str
    check_name: str
    tier: str | None
    kind: str
    started_at: str
    reason: str
    silenced_until: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "check_name": self.check_name,
            "tier": self.tier,
            "kind": self.kind,
            "started_at": self.started_at,
            "reason": self.reason,
            "silenced_until": self.silenced_until,
        }


def open_incidents(
    states: dict[str, AlertState], config: Config | None, now: datetime
) -> list[Incident]:
    silences = silencing.silences_in(states.get(silencing.SILENCES_ID, AlertState("_")))
    names = {c.id: c.name for c in config.checks} if config else {}
    tiers = {c.id: c.tier for c in config.checks} if config else {}
    out = []
    for sid, state in states.items():
        if not state.incident_open or sid == silencing.SILENCES_ID:
            continue
        if state.incident_kind == SILENT:  # a burn inside the check's own incident: not news
            continue
        check_id = sid.removeprefix(STATE_PREFIX)
        tier = tiers.get(check_id) or state.tier
        errors = [str(r["error"]) for r in state.recent if r.get("error")]
        kind = state.incident_kind or "down"
        reason = errors[-1] if errors and kind == "down" else kind.replace("_", " ")
        held = silencing.covering(silences, check_id, tier or "", now)
        out.append(
            Incident(
                check_id,
                names.get(check_id, check_id),
                tier,
                kind,
                state.incident_started_at or state.failing_since or "",
                reason,
                held.until if held else None,
            )
        )
    return sorted(out, key=lambda i: (i.started_at, i.check_id))


def cmd_incidents(args: argparse.Namespace, term: Terminal) -> int:
    config = optional_config(args)
    now = datetime.now(UTC)
    states = stored(args).load_all()
    incidents = open_incidents(states, config, now)
    silences = silencing.active(
        silencing.silences_in(states.get(silencing.SILENCES_ID, AlertState("_"))), now
    )
    if args.json:
        doc = {
            "incidents": [i.to_dict() for i in incidents],
            "silences": [s.to_dict() for s in silences],
        }
        json.dump(doc, term.stdout, indent=2)
        term.stdout.write("\n")
        return 0
    if not incidents:
        term.out("No open incidents.")
    for i in incidents:
        since = format_duration(max(0.0, (now - parse_iso(i.started_at)).total_seconds()))
        label = term.paint("DOWN" if i.kind == "down" else i.kind.upper(), "down")
        held = f"  [silenced until {i.silenced_until}]" if i.silenced_until else ""
        where = f"{i.tier}/" if i.tier else ""
        term.out(f"  {label} {where}{i.check_id}  since {i.started_at} ({since}){held}")
        term.out(f"      {i.reason}")
    for s in silences:
        left = format_duration((parse_iso(s.until) - now).total_seconds())
        why = f": {s.reason}" if s.reason else ""
        term.out(f"  silenced {s.target} until {s.until} ({left} left){why}")
    return 0


def _targets(config: Config | None, states: dict[str, AlertState]) -> set[str]:
    """What may be silenced: the config's checks and tiers, else those the store knows."""
    if config is not None:
        return {c.id for c in config.checks} | set(config.tiers) | {silencing.EVERYTHING}
    known = {sid for sid in states if ":" not in sid}
    return known | {s.tier for s in states.values() if s.tier} | {silencing.EVERYTHING}


def _known_target(target: str, config: Config | None, store: StateStore) -> None:
    targets = _targets(config, store.load_all() if config is None else {})
    if target not in targets:
        listed = ", ".join(sorted(targets - {silencing.EVERYTHING})[:20]) or "none yet"
        raise UsageError(f"unknown check or tier {target!r} (known: {listed}, or '*')")


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"--for: {text!r} is not a positive duration")
    if seconds > MAX_SILENCE_S:
        raise UsageError(f"--for: {text!r} is longer than 30d; fix the check or disable it")
    return seconds


def cmd_silence(args: argparse.Namespace, term: Terminal) -> int:
    seconds = _duration(args.duration)
    store = stored(args)
    config = optional_config(args)
    _known_target(args.target, config, store)
    now = datetime.now(UTC)
    until = iso(now + timedelta(seconds=seconds))
    silence = silencing.Silence(args.target, until, args.reason or "", iso(now))
    silencing.add(store, silence, now)
    what = "every check" if args.target == silencing.EVERYTHING else args.target
    term.out(f"silenced {what} until {until} ({format_duration(seconds)})")
    return 0


def cmd_unsilence(args: argparse.Namespace, term: Terminal) -> int:
    store = stored(args)
    _known_target(args.target, optional_config(args), store)
    had, _ = silencing.remove(store, args.target, datetime.now(UTC))
    term.out(f"unsilenced {args.target}" if had else f"{args.target} was not silenced")
    return 0
