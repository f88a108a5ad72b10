"""`healthwatch watch`: run tiers on a loop, for a box with no cron and no AWS.

Each tier runs every `--every`, or on its own `rate(...)` schedule from the config. Alerts
go out as `run --alert` sends them. SIGINT or SIGTERM stops the loop: a run in flight is
finished and stored first (its deadline bounds how long that takes); a second signal
stops at once, which loses nothing either: the alert outbox is in the state store and the
next run delivers what is pending.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

from healthwatch.cli.running import build_runtime, redact_logs
from healthwatch.cli.terminal import Terminal
from healthwatch.durations import format_duration, parse_duration
from healthwatch.errors import RunError, UsageError
from healthwatch.models import TierRun
from healthwatch.runtime.config_source import load_config

if TYPE_CHECKING:
    from healthwatch.config import Config

MIN_EVERY_S = 1.0


def _periods(args: argparse.Namespace, tiers: list[str], config: Config) -> dict[str, float]:
    if args.every:
        try:
            every = parse_duration(args.every)
        except ValueError as exc:
            raise UsageError(f"--every: {exc}") from None
        if not every >= MIN_EVERY_S:
            raise UsageError(f"--every: at least {format_duration(MIN_EVERY_S)}")
        return dict.fromkeys(tiers, every)
    periods = {}
    for tier in tiers:
        period = config.tiers[tier].period_seconds
        if period is None:
            raise UsageError(
                f"tier {tier!r} is scheduled with cron(), which watch cannot follow: give --every"
            )
        periods[tier] = float(period)
    return periods


def cmd_watch(args: argparse.Namespace, term: Terminal) -> int:
    config = load_config(args.config)
    tiers = list(config.tiers) if args.all or not args.tier else [args.tier]
    unknown = [t for t in tiers if t not in config.tiers]
    if unknown:
        raise UsageError(f"unknown tier {unknown[0]!r} (tiers: {', '.join(config.tiers)})")
    periods = _periods(args, tiers, config)
    runtime = build_runtime(args, config)
    redact_logs(runtime.secrets)

    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        if len(signals) > 1:  # asked twice: stop now; the outbox keeps what is undelivered
            term.err("healthwatch watch: stopping now")
            os._exit(128 + signum)
        stop.set()
        term.err(f"healthwatch watch: {signal.Signals(signum).name}: stopping after this run")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    runs = failed = 0
    due = dict.fromkeys(tiers, time.monotonic())
    plan = ", ".join(f"{t} every {format_duration(p)}" for t, p in periods.items())
    term.out(f"watching {plan} (Ctrl-C to stop)")
    try:
        while not stop.is_set():
            now = time.monotonic()
            ready = [t for t in tiers if due[t] <= now]
            if not ready:
                stop.wait(max(0.0, min(due.values()) - now))
                continue
            for tier in ready:
                due[tier] = now + periods[tier]
            for outcome in runtime.run_all(ready):
                runs += 1
                run = outcome.run if isinstance(outcome, RunError) else outcome
                if isinstance(outcome, RunError):
                    failed += 1
                    for problem in outcome.problems:
                        term.err(f"healthwatch: {problem}")
                term.out(_line(run))
                term.stdout.flush()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    term.out(f"stopped after {runs} run{'s' if runs != 1 else ''}")
    return 1 if failed else 0


def _line(run: TierRun) -> str:
    c = run.counts()
    down = [r.check_id for r in run.results if r.status == "down"]
    alerts = f" · alerts: {', '.join(f'{a.event} {a.check_id}' for a in run.alerts)}"
    return (
        f"{run.started_at} {run.tier}: {c['up']} up, {c['degraded']} degraded, {c['down']} down"
        + (f" ({', '.join(down)})" if down else "")
        + (alerts if run.alerts else "")
        + f" · {run.duration_ms / 1000:.2f}s"
    )
