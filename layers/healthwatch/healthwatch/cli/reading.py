"""The reading commands: `history`, `report`, `status-page`, from stored data."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from healthwatch.cli.running import backend_name
from healthwatch.cli.terminal import Terminal, with_progress
from healthwatch.config import Config
from healthwatch.durations import parse_duration
from healthwatch.errors import UsageError
from healthwatch.runtime import local as local_runtime
from healthwatch.runtime.config_source import load_config
from healthwatch.views import statuspage
from healthwatch.views.report import build_report, render_text

if TYPE_CHECKING:
    from healthwatch.storage import HistoryStore


def history_store(args: argparse.Namespace) -> HistoryStore:
    """The history of the chosen backend, for reading: DynamoDB on aws, the files locally."""
    if backend_name(args) == "aws":
        from healthwatch.runtime import aws

        return aws.history()
    return local_runtime.history(local_runtime.data_dir(args.data_dir))


def window(since: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    end = now or datetime.now(UTC)
    try:
        return end - timedelta(seconds=parse_duration(since)), end + timedelta(seconds=1)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


def _known_check(config: Config, check_id: str) -> None:
    try:
        config.check(check_id)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None


def cmd_history(args: argparse.Namespace, term: Terminal) -> int:
    config = load_config(args.config)
    _known_check(config, args.check)
    start, end = window(args.since)
    records = history_store(args).query(args.check, start, end)
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
    """Figures per check and tier beside their SLO targets."""
    config = load_config(args.config)
    check = getattr(args, "check", None)
    if check:
        _known_check(config, check)
    start, end = window(args.since)
    store = history_store(args)
    source = store.query(check, start, end) if check else store.query_all(start, end)
    report = build_report(with_progress(source), config, start, end, only_check=check)
    if args.json:
        json.dump(report.to_dict(), term.stdout, indent=2)
        term.stdout.write("\n")
        return 0
    term.stdout.write(render_text(report, term.colour, window=args.since))
    return 0


def cmd_status_page(args: argparse.Namespace, term: Terminal) -> int:
    """The same page the runs keep current, built from the stored history."""
    config = load_config(args.config)
    now = datetime.now(UTC)
    since = now - timedelta(days=statuspage.DAYS)
    records = with_progress(history_store(args).query_all(since, now + timedelta(seconds=1)))
    page = statuspage.render(config, statuspage.build_rollups(records, now), now)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    term.out(f"wrote {out} ({len(config.checks)} checks)")
    return 0
