"""The reading commands: `history`, `report`, `status-page`, from stored data."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast

from healthwatch.cli.running import optional_config, stored
from healthwatch.cli.terminal import Terminal, with_progress
from healthwatch.config import Config
from healthwatch.durations import parse_duration
from healthwatch.errors import UsageError
from healthwatch.models import Result
from healthwatch.views import statuspage
from healthwatch.views.report import build_report, render_text

if TYPE_CHECKING:
    pass


def window(since: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    end = now or datetime.now(UTC)
    try:
        return end - timedelta(seconds=parse_duration(since)), end + timedelta(seconds=1)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


def _known_check(config: Config | None, check_id: str) -> None:
    if config is None:  # no config: the history says whether there is such a check
        return
    try:
        config.check(check_id)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None


@dataclass
class _Seen:
    """A check as its stored results show it (no config at hand)."""

    id: str
    name: str
    tier: str
    runbook: str | None = None
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class _Tier:
    description: str = ""


class StoredCatalog:
    """What the reading commands need of a config, from the stored results alone: the
    tiers and checks seen, named as the results name them, no SLO targets."""

    slo = None

    def __init__(self, records: Iterable[Result]) -> None:
        seen: dict[str, _Seen] = {}
        for r in records:
            seen[r.check_id] = _Seen(r.check_id, r.check_name or r.check_id, r.tier)
        self.checks = sorted(seen.values(), key=lambda c: (c.tier, c.id))
        self.tiers = {c.tier: _Tier() for c in self.checks}

    def checks_for(self, tier: str) -> list[_Seen]:
        return [c for c in self.checks if c.tier == tier]


def cmd_history(args: argparse.Namespace, term: Terminal) -> int:
    config = optional_config(args)
    _known_check(config, args.check)
    start, end = window(args.since)
    records = stored(args).query(args.check, start, end)
    if args.json:
        json.dump([r.to_dict() for r in records], term.stdout, indent=2)
        term.stdout.write("\n")
        return 0
    term.out(f"{args.check}: {len(records)} results since {start:%Y-%m-%d %H:%M} UTC")
    term.out(f"  {'TIME (UTC)':<20} {'STATUS':<9} {'LATENCY':>9}  {'TRIES':>5}  ERROR")
    for r in records:
        latency = "-" if r.latency_ms is None else f"{r.latency_ms:.0f} ms"
        label = term.paint(f"{r.status.upper():<9}", r.status)
        at = r.started_at[:19].replace("T", " ")
        term.out(f"  {at:<20} {label} {latency:>9}  {r.attempts:>5}  {r.error or ''}")
    return 0


def cmd_report(args: argparse.Namespace, term: Terminal) -> int:
    """Figures per check and tier beside their SLO targets (none without a config)."""
    config = optional_config(args)
    check = getattr(args, "check", None)
    if check:
        _known_check(config, check)
    start, end = window(args.since)
    store = stored(args)
    source = store.query(check, start, end) if check else store.query_all(start, end)
    records = list(with_progress(source))
    catalog = config if config is not None else StoredCatalog(records)
    report = build_report(records, catalog, start, end, only_check=check)
    if args.json:
        json.dump(report.to_dict(), term.stdout, indent=2)
        term.stdout.write("\n")
        return 0
    term.stdout.write(render_text(report, term.colour, window=args.since))
    return 0


def cmd_status_page(args: argparse.Namespace, term: Terminal) -> int:
    """The same page the runs keep current, built from the stored history."""
    config = optional_config(args)
    now = datetime.now(UTC)
    since = now - timedelta(days=statuspage.DAYS)
    source = stored(args).query_all(since, now + timedelta(seconds=1))
    records = list(with_progress(source))
    catalog = config if config is not None else cast(Config, StoredCatalog(records))
    page = statuspage.render(catalog, statuspage.build_rollups(records, now), now)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    term.out(f"wrote {out} ({len(catalog.checks)} checks)")
    return 0
