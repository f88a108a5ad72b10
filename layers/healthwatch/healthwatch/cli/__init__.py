"""The `healthwatch` command: every subcommand and all terminal output live in this package."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from healthwatch.cli import costing, operating, querying, reading, running, watching
from healthwatch.cli.terminal import Terminal
from healthwatch.errors import ConfigError, UsageError

EXIT_OK, EXIT_DOWN, EXIT_USAGE = 0, 1, 2


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
    term = Terminal(sys.stdout, sys.stderr, no_color=args.no_color)
    try:
        return int(args.func(args, term))
    except ConfigError as exc:
        term.err(str(exc))
        return EXIT_USAGE
    except UsageError as exc:
        term.err(f"healthwatch: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `healthwatch run | head`: the reader left; so do we, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # a store that cannot be reached, say: one line, not a traceback
        logging.getLogger("healthwatch.cli").debug("command failed", exc_info=True)
        term.err(f"healthwatch: {type(exc).__name__}: {exc}")
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
    v.add_argument(
        "--compile",
        action="store_true",
        help="also write CONFIG.compiled beside it: read without pydantic (what make build ships)",
    )
    v.set_defaults(func=running.cmd_validate)

    r = sub.add_parser("run", parents=[common], help="run a tier (or all) once")
    group = r.add_mutually_exclusive_group()
    group.add_argument("--tier", help="tier to run (default: the first tier)")
    group.add_argument("--all", action="store_true", help="run every tier")
    r.add_argument("--json", action="store_true", help="one JSON document on stdout")
    r.add_argument(
        "--wide", "-v", action="store_true", help="the whole reason of each check, never cut"
    )
    r.add_argument(
        "--alert",
        action="store_true",
        help="deliver alerts to the configured chat providers (local backend)",
    )
    r.set_defaults(func=running.cmd_run)

    w = sub.add_parser("watch", parents=[common], help="run tiers on a loop (no cron needed)")
    wgroup = w.add_mutually_exclusive_group()
    wgroup.add_argument("--tier", help="only this tier (default: every tier)")
    wgroup.add_argument("--all", action="store_true", help="every tier (the default)")
    w.add_argument("--every", help="run each tier this often (default: its own rate schedule)")
    w.add_argument("--alert", action="store_true", help="post alerts to chat, as run --alert")
    w.set_defaults(func=watching.cmd_watch)

    h = sub.add_parser("history", parents=[common], help="results of one check")
    h.add_argument("--check", required=True, help="check id")
    h.add_argument("--since", default="24h", help="window, e.g. 24h, 7d (default 24h)")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=reading.cmd_history)

    rep = sub.add_parser(
        "report", parents=[common], help="uptime, latency and SLOs per check and tier"
    )
    rep.add_argument("--since", default="30d", help="window (default 30d)")
    rep.add_argument("--check", help="only this check")
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(func=reading.cmd_report)

    sp = sub.add_parser("status-page", parents=[common], help="write the HTML status page")
    sp.add_argument("--out", default="status.html", help="output file (default status.html)")
    sp.set_defaults(func=reading.cmd_status_page)

    inc = sub.add_parser("incidents", parents=[common], help="open incidents and silences")
    inc.add_argument("--json", action="store_true")
    inc.set_defaults(func=operating.cmd_incidents)

    si = sub.add_parser(
        "silence", parents=[common], help="hold a check's (or tier's, or '*') alerts back"
    )
    si.add_argument("target", help="check id, tier name, or '*' for everything")
    si.add_argument("--for", dest="duration", required=True, help="how long, e.g. 30m, 2h")
    si.add_argument("--reason", help="shown in `incidents` and on held-back results")
    si.set_defaults(func=operating.cmd_silence)

    un = sub.add_parser("unsilence", parents=[common], help="end a silence early")
    un.add_argument("target", help="check id, tier name, or '*'")
    un.set_defaults(func=operating.cmd_unsilence)

    co = sub.add_parser(
        "cost", parents=[common], help="the config's monthly AWS cost beside Synthetics'"
    )
    co.add_argument("--json", action="store_true")
    co.set_defaults(func=costing.cmd_cost)

    q = sub.add_parser(
        "query", parents=[common], help="SQL over the results (DuckDB locally, Athena on aws)"
    )
    q.add_argument("sql", help="one SQL statement over the table `results`")
    q.add_argument("--json", action="store_true", help='{"columns": [...], "rows": [...]}')
    q.set_defaults(func=querying.cmd_query)
    return p
