"""`healthwatch validate` and `healthwatch run`: the config checked, tiers run and shown."""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from healthwatch.cli.terminal import SYMBOLS, Terminal
from healthwatch.config import Config
from healthwatch.errors import RunError, UsageError
from healthwatch.models import Result, TierRun
from healthwatch.probes import Category, category_of
from healthwatch.runtime import Runtime
from healthwatch.runtime import local as local_runtime
from healthwatch.runtime.config_source import compile_config, load_config
from healthwatch.secrets import RedactingFilter, Secrets

EXIT_OK, EXIT_DOWN = 0, 1


def backend_name(args: argparse.Namespace) -> str:
    return args.backend or os.environ.get("HEALTHWATCH_BACKEND", "local")


def stored(args: argparse.Namespace) -> Any:
    """The chosen backend's stored history and alert state, for the reading commands: the
    DynamoDB table with `--backend aws`, the data directory otherwise (one object is both
    the HistoryStore and the StateStore)."""
    if backend_name(args) == "aws":
        from healthwatch.runtime import aws

        return aws.history()
    return local_runtime.history(local_runtime.data_dir(args.data_dir))


def stored_results(args: argparse.Namespace) -> Any:
    """The chosen backend's ResultStore: the results bucket, or the data directory."""
    if backend_name(args) == "aws":
        from healthwatch.runtime import aws

        return aws.results_store()
    return local_runtime.history(local_runtime.data_dir(args.data_dir))


def optional_config(args: argparse.Namespace) -> Config | None:
    """The config if its file is there (a broken one is still an error), else None: the
    reading commands work from stored data alone."""
    if not os.path.exists(args.config):
        return None
    return load_config(args.config)


def cmd_validate(args: argparse.Namespace, term: Terminal) -> int:
    if args.compile:
        config, written = compile_config(args.config)
    else:
        config = load_config(args.config, use_compiled=False)
    from healthwatch.engine.shards import plan

    def tier(name: str) -> str:
        n, shards = len(config.checks_for(name)), plan(config, name)
        return f"{name} ({n} checks{f' in {shards} shards' if shards > 1 else ''})"

    line = f"{args.config}: valid · {len(config.checks)} checks · tiers: "
    line += ", ".join(tier(t) for t in config.tiers)
    if config.regions:
        names = ", ".join(r.name for r in config.regions)
        decides = f"quorum {config.quorum}" if config.quorum else "the home decides"
        line += f" · regions: {names} ({decides})"
    term.out(line)
    if args.compile:
        term.out(f"compiled: {written}")
    return EXIT_OK


def build_runtime(args: argparse.Namespace, config: Config) -> Runtime:
    if backend_name(args) == "aws":
        from healthwatch.runtime import aws

        return aws.build(config)
    return local_runtime.build(config, local_runtime.data_dir(args.data_dir), alert=args.alert)


def cmd_run(args: argparse.Namespace, term: Terminal) -> int:
    config = load_config(args.config)
    if args.all:
        tiers = list(config.tiers)
    else:
        tier = args.tier or next(iter(config.tiers))
        if tier not in config.tiers:
            raise UsageError(f"unknown tier {tier!r} (tiers: {', '.join(config.tiers)})")
        tiers = [tier]
    runtime = build_runtime(args, config)
    redact_logs(runtime.secrets)
    runs: list[TierRun] = []
    failed = False
    live = None if args.json or not term.stdout.isatty() else _live(term, len(tiers) > 1)
    for outcome in runtime.run_all(tiers, on_result=live):
        if isinstance(outcome, RunError):
            run = outcome.run
            failed = True
            for problem in outcome.problems:
                term.err(f"healthwatch: {problem}")
        else:
            run = outcome
        runs.append(run)
        if not args.json:
            runbooks = {c.id: c.runbook for c in config.checks if c.runbook}
            print_run(run, term, wide=args.wide, runbooks=runbooks)
    if args.json:
        docs: Any = [r.to_dict() for r in runs] if args.all else runs[0].to_dict()
        json.dump(docs, term.stdout, indent=2)
        term.stdout.write("\n")
    down = any(r.status == "down" for run in runs for r in run.results)
    return EXIT_DOWN if down or failed else EXIT_OK


def _live(term: Terminal, name_tier: bool) -> Callable[[Result], None]:
    """On a terminal: one line per check as it completes (tiers run at once name their
    tier); the tables follow at the end."""
    lock = threading.Lock()

    def show(r: Result) -> None:
        latency = "" if r.latency_ms is None else f" {r.latency_ms:.0f} ms"
        label = term.paint(f"{SYMBOLS[r.status]:<9}", r.status)
        where = f"{r.tier}/" if name_tier else ""
        line = f"  {label} {where}{r.check_id}{latency}  {_short(r.error, 80, '')}".rstrip()
        with lock:
            term.out(line)
            term.stdout.flush()

    return show


def redact_logs(secrets: Secrets) -> None:
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter(secrets))


def print_run(
    run: TierRun, term: Terminal, wide: bool = False, runbooks: dict[str, str] | None = None
) -> None:
    runbooks = runbooks or {}
    rows = []
    for r in run.results:
        latency = "-" if r.latency_ms is None else f"{r.latency_ms:.0f} ms"
        detail = r.error or ""
        if not detail and r.status == "degraded":
            warned = [w["detail"] for w in r.details.get("warnings", []) if not w["success"]]
            detail = "; ".join(warned) or str(r.details.get("reason", ""))
        if r.attempts > 1:
            detail = f"{detail} (attempts: {r.attempts})".strip()
        if wide and r.status != "up" and runbooks.get(r.check_id):
            detail = f"{detail} (runbook: {runbooks[r.check_id]})".strip()
        if r.details.get("maintenance"):  # alerts held back: say why it is not paging
            detail = f"[maintenance: {r.details['maintenance']}] {detail}".strip()
        rows.append((r.status, r.check_id, r.type, latency, detail))
    width = max([len(r[1]) for r in rows] + [5])
    term.out(f"\n{run.tier} · run {run.run_id} · {run.duration_ms / 1000:.2f}s")
    if not rows:
        term.out(f"  no enabled checks in tier {run.tier!r}")
        return
    term.out(f"  {'STATUS':<9} {'CHECK':<{width}}  {'TYPE':<10} {'LATENCY':>9}  DETAIL")
    for status, cid, typ, latency, detail in rows:
        label = term.paint(f"{SYMBOLS[status]:<9}", status)
        shown = " ".join(detail.split()) if wide else _short(detail, 100, "")
        term.out(f"  {label} {cid:<{width}}  {typ:<10} {latency:>9}  {shown}")
    c = run.counts()
    alerts = ""
    if run.alerts:
        alerts = " · alerts: " + ", ".join(f"{a.event} {a.check_id}" for a in run.alerts)
    term.out(f"  {run.tier}: {c['up']} up, {c['degraded']} degraded, {c['down']} down{alerts}")
    term.out(f"  {overall_line(run)}")


def overall_line(run: TierRun) -> str:
    """The integration dashboard's last line: how many are healthy, the slowest, what is down."""
    results = run.results
    integrations = [r for r in results if _is_integration(r.type)]
    scope = integrations or results
    noun = "integrations" if integrations else "checks"
    healthy = sum(1 for r in scope if r.status == "up")
    line = f"Overall: {healthy}/{len(scope)} {noun} healthy"
    timed = [r for r in scope if r.latency_ms is not None]
    if timed:
        slow = max(timed, key=lambda r: r.latency_ms or 0.0)
        line += f" · slowest {slow.check_id} ({slow.latency_ms:.0f} ms)"
    down = [r for r in scope if r.status == "down"]
    degraded = [r for r in scope if r.status == "degraded"]
    if down:
        line += " · down: " + ", ".join(f"{r.check_id} ({_short(r.error)})" for r in down)
    if degraded:
        line += " · degraded: " + ", ".join(r.check_id for r in degraded)
    return line


def _is_integration(type_name: str) -> bool:
    try:
        return category_of(type_name) is Category.INTEGRATION
    except KeyError:  # a record of a type this version no longer has
        return False


def _short(error: str | None, limit: int = 60, empty: str = "failed") -> str:
    """`error` on one line, cut at a word with an ellipsis when it is longer than `limit`."""
    if not error:
        return empty
    flat = " ".join(error.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"
