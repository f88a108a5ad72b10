"""The `healthwatch` command: validate, run, history, report, status-page."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from healthwatch.errors import UsageError

if TYPE_CHECKING:
    from healthwatch.config import Config
    from healthwatch.models import TierRun
    from healthwatch.secrets import Secrets

EXIT_OK, EXIT_DOWN, EXIT_USAGE = 0, 1, 2
_COLOURS = {"up": "32", "degraded": "33", "down": "31"}
_SYMBOLS = {"up": "UP", "degraded": "DEGRADED", "down": "DOWN"}
INTEGRATION_TYPES = {"shopify", "chatwoot", "ga4", "openai", "statuspage"}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for usage errors
        return int(exc.code or 0)
    logging.basicConfig(
        level=os.environ.get("HEALTHWATCH_LOG_LEVEL", "WARNING").upper(),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from healthwatch.errors import ConfigError

    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"healthwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a store that cannot be reached, say: one line, not a traceback
        logging.getLogger("healthwatch.cli").debug("command failed", exc_info=True)
        print(f"healthwatch: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_DOWN


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=os.environ.get("HEALTHWATCH_CONFIG", "checks.yaml"),
        help="config file (default: checks.yaml)",
    )
    common.add_argument(
        "--data-dir", default=None, help="local backend directory (default: ./.healthwatch)"
    )
    common.add_argument(
        "--backend",
        choices=("local", "aws"),
        default=None,
        help="where results and state live (default: local, or $HEALTHWATCH_BACKEND)",
    )
    common.add_argument("--no-color", action="store_true", help="plain text output")

    p = argparse.ArgumentParser(prog="healthwatch", description="Serverless synthetic monitor.")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", parents=[common], help="check a config file; exit 0 or 2")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("run", parents=[common], help="run a tier (or all) once")
    group = r.add_mutually_exclusive_group()
    group.add_argument("--tier", help="tier to run (default: the first tier)")
    group.add_argument("--all", action="store_true", help="run every tier")
    r.add_argument("--json", action="store_true", help="one JSON document on stdout")
    r.add_argument(
        "--alert",
        action="store_true",
        help="deliver alerts to the configured chat providers (local backend)",
    )
    r.set_defaults(func=cmd_run)

    h = sub.add_parser("history", parents=[common], help="results of one check")
    h.add_argument("--check", required=True, help="check id")
    h.add_argument("--since", default="24h", help="window, e.g. 24h, 7d (default 24h)")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=cmd_history)

    rep = sub.add_parser(
        "report", parents=[common], help="uptime, latency and SLOs per check and tier"
    )
    rep.add_argument("--since", default="30d", help="window (default 30d)")
    rep.add_argument("--check", help="only this check")
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(func=cmd_report)

    sp = sub.add_parser("status-page", parents=[common], help="write the HTML status page")
    sp.add_argument("--out", default="status.html", help="output file (default status.html)")
    sp.set_defaults(func=cmd_status_page)
    return p


# -- helpers -------------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> Config:
    from healthwatch.config import load_config

    return load_config(args.config)


def _backend_name(args: argparse.Namespace) -> str:
    from healthwatch.backends import default_backend_name

    return args.backend or default_backend_name()


def _data_dir(args: argparse.Namespace) -> str:
    from healthwatch.backends import DEFAULT_DATA_DIR

    return args.data_dir or os.environ.get("HEALTHWATCH_DATA_DIR", DEFAULT_DATA_DIR)


def _colour(args: argparse.Namespace, stream: TextIO) -> bool:
    return not args.no_color and "NO_COLOR" not in os.environ and stream.isatty()


def _paint(text: str, status: str, on: bool) -> str:
    return f"\033[{_COLOURS[status]}m{text}\033[0m" if on else text


# -- commands ------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    config = _load(args)
    per_tier = {t: len(config.checks_for(t)) for t in config.tiers}
    tiers = ", ".join(f"{t} ({n} checks)" for t, n in per_tier.items())
    print(f"{args.config}: valid · {len(config.checks)} checks · tiers: {tiers}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from healthwatch.backends import build_backend, build_secrets
    from healthwatch.engine import new_session, run_tier
    from healthwatch.errors import RunError

    config = _load(args)
    if args.all:
        tiers = list(config.tiers)
    else:
        tier = args.tier or next(iter(config.tiers))
        if tier not in config.tiers:
            raise UsageError(f"unknown tier {tier!r} (tiers: {', '.join(config.tiers)})")
        tiers = [tier]
    name = _backend_name(args)
    secrets = build_secrets(name)
    _redact_logs(secrets)
    session = new_session()
    backend = build_backend(
        name, config, data_dir=_data_dir(args), session=session, secrets=secrets, alert=args.alert
    )
    runs: list[TierRun] = []
    failed = False
    for tier in tiers:
        try:
            run = run_tier(config, tier, backend, session=session, secrets=secrets)
        except RunError as exc:
            run = exc.run
            failed = True
            for problem in exc.problems:
                print(f"healthwatch: {problem}", file=sys.stderr)
        runs.append(run)
        if not args.json:
            _print_run(run, config, _colour(args, sys.stdout))
    if args.json:
        docs: Any = [r.to_dict() for r in runs] if args.all else runs[0].to_dict()
        json.dump(docs, sys.stdout, indent=2)
        sys.stdout.write("\n")
    down = any(r.status == "down" for run in runs for r in run.results)
    return EXIT_DOWN if down or failed else EXIT_OK


def _redact_logs(secrets: Secrets) -> None:
    from healthwatch.secrets import RedactingFilter

    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter(secrets))


def _print_run(run: TierRun, config: Config, colour: bool, out: TextIO = sys.stdout) -> None:
    rows = []
    for r in run.results:
        latency = "-" if r.latency_ms is None else f"{r.latency_ms:.0f} ms"
        detail = r.error or ""
        if not detail and r.status == "degraded":
            warned = [w["detail"] for w in r.details.get("warnings", []) if not w["success"]]
            detail = "; ".join(warned) or str(r.details.get("reason", ""))
        if r.attempts > 1:
            detail = f"{detail} (attempts: {r.attempts})".strip()
        rows.append((r.status, r.check_id, r.type, latency, detail))
    width = max([len(r[1]) for r in rows] + [5])
    print(f"\n{run.tier} · run {run.run_id} · {run.duration_ms / 1000:.2f}s", file=out)
    if not rows:
        print(f"  no enabled checks in tier {run.tier!r}", file=out)
        return
    print(f"  {'STATUS':<9} {'CHECK':<{width}}  {'TYPE':<10} {'LATENCY':>9}  DETAIL", file=out)
    for status, cid, typ, latency, detail in rows:
        label = _paint(f"{_SYMBOLS[status]:<9}", status, colour)
        print(f"  {label} {cid:<{width}}  {typ:<10} {latency:>9}  {detail[:100]}", file=out)
    c = run.counts()
    alerts = ""
    if run.alerts:
        alerts = " · alerts: " + ", ".join(f"{a.event} {a.check_id}" for a in run.alerts)
    print(
        f"  {run.tier}: {c['up']} up, {c['degraded']} degraded, {c['down']} down{alerts}", file=out
    )
    print(f"  {overall_line(run)}", file=out)


def overall_line(run: TierRun) -> str:
    """The integration dashboard's last line: how many are healthy, the slowest, what is down."""
    results = run.results
    integrations = [r for r in results if r.type in INTEGRATION_TYPES]
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


def _short(error: str | None, limit: int = 60) -> str:
    if not error:
        return "failed"
    return error if len(error) <= limit else error[: limit - 1].rstrip() + "…"


def cmd_history(args: argparse.Namespace) -> int:
    from healthwatch.history import history_main

    return history_main(args, _load(args), _backend_name(args), _data_dir(args))


def cmd_report(args: argparse.Namespace) -> int:
    from healthwatch.history import report_main

    return report_main(args, _load(args), _backend_name(args), _data_dir(args))


def cmd_status_page(args: argparse.Namespace) -> int:
    from healthwatch.statuspage import status_page_main

    return status_page_main(args, _load(args), _backend_name(args), _data_dir(args))


if __name__ == "__main__":  # run as the package's module, so its exceptions are the same classes
    from healthwatch.cli import main as _main

    sys.exit(_main())
