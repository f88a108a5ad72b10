"""Read history: `healthwatch history` (and the store a report reads from)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from healthwatch.durations import parse_duration

if TYPE_CHECKING:
    from healthwatch.config import Config
    from healthwatch.storage import HistoryStore


def history_store(backend: str, data_dir: str) -> HistoryStore:
    """The history of a backend, for reading: DynamoDB on aws, the result files locally."""
    if backend == "aws":
        from healthwatch.aws import history_store as aws_history

        return aws_history()
    from healthwatch.storage.local import LocalStore

    return LocalStore(data_dir)


def window(since: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    end = now or datetime.now(UTC)
    try:
        return end - timedelta(seconds=parse_duration(since)), end + timedelta(seconds=1)
    except ValueError as exc:
        from healthwatch.errors import UsageError

        raise UsageError(f"--since: {exc}") from None


def history_main(args: argparse.Namespace, config: Config, backend: str, data_dir: str) -> int:
    from healthwatch.cli import _colour, _paint
    from healthwatch.errors import UsageError

    try:
        config.check(args.check)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    start, end = window(args.since)
    records = history_store(backend, data_dir).query(args.check, start, end)
    if args.json:
        json.dump(records, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    colour = _colour(args, sys.stdout)
    print(f"{args.check}: {len(records)} results since {start:%Y-%m-%d %H:%M} UTC")
    print(f"  {'TIME (UTC)':<20} {'STATUS':<9} {'LATENCY':>9}  {'TRIES':>5}  ERROR")
    for r in records:
        latency = "-" if r.get("latency_ms") is None else f"{r['latency_ms']:.0f} ms"
        label = _paint(f"{r['status'].upper():<9}", r["status"], colour)
        at = r["started_at"][:19].replace("T", " ")
        print(f"  {at:<20} {label} {latency:>9}  {r.get('attempts', 1):>5}  {r.get('error') or ''}")
    return 0


def report_main(args: argparse.Namespace, config: Config, backend: str, data_dir: str) -> int:
    """`healthwatch report`: figures per check and tier beside their SLO targets."""
    from healthwatch.cli import _colour
    from healthwatch.errors import UsageError
    from healthwatch.report import build_report, render_text, with_progress

    check = getattr(args, "check", None)
    if check:
        try:
            config.check(check)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
    start, end = window(args.since)
    store = history_store(backend, data_dir)
    source = store.query(check, start, end) if check else store.query_all(start, end)
    report = build_report(with_progress(source), config, start, end, only_check=check)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(render_text(report, _colour(args, sys.stdout), window=args.since))
    return 0
