"""`healthwatch cost`: the config's monthly AWS bill, beside CloudWatch Synthetics'."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from healthwatch.cli.running import backend_name, stored, stored_results
from healthwatch.cli.terminal import Terminal
from healthwatch.engine.shards import plan
from healthwatch.models import parse_iso
from healthwatch.runtime.config_source import load_config
from healthwatch.storage.keys import latest_key
from healthwatch.views import cost as costs

if TYPE_CHECKING:
    pass

HEADER = ("TIER", "CHECKS", "RUNS/MO", "LAST RUN", "AWS", "SYNTHETICS")


def _alerts_last_month(args: argparse.Namespace) -> float:
    """Alert events of the last 30 days (the local alerts.jsonl; 0 on aws: SNS is cents)."""
    if backend_name(args) == "aws":
        return 0.0
    from healthwatch.notify.local import read_alerts

    store = stored(args)
    since = datetime.now(UTC) - timedelta(days=30)
    return float(sum(1 for e in read_alerts(store.alerts_path) if parse_iso(e.at) >= since))


def cmd_cost(args: argparse.Namespace, term: Terminal) -> int:
    config = load_config(args.config)
    store = stored_results(args)
    alerts = _alerts_last_month(args)
    rows: list[costs.TierCost] = []
    skipped: list[str] = []
    for tier, tier_conf in config.tiers.items():
        checks = len(config.checks_for(tier))
        period = tier_conf.period_seconds
        if not checks:
            continue
        if period is None:
            skipped.append(f"{tier} (a cron() schedule: its runs per month are not counted)")
            continue
        count = plan(config, tier)
        docs = [store.get_document(latest_key(tier, k, count)) for k in range(count)]
        found = [raw for raw in docs if raw]
        duration = sum(json.loads(raw)["duration_ms"] for raw in found) / 1000 if found else None
        size = sum(len(raw) for raw in found)
        share = alerts / len(config.tiers)
        rows.append(
            costs.tier_cost(
                tier,
                checks,
                float(period),
                duration,
                size,
                share,
                shards=count,
                regions=max(1, len(config.regions)),
            )
        )
    if args.json:
        doc = costs.to_dict(rows) | {"not_costed": skipped}
        json.dump(doc, term.stdout, indent=2)
        term.stdout.write("\n")
        return 0
    term.out("Monthly AWS cost (us-east-1, on demand, no free tier; prices in README, Cost)")
    term.out("  {:<14} {:>6} {:>8} {:>9} {:>10} {:>11}".format(*HEADER))
    for c in rows:
        last = "not run" if c.duration_s is None else f"{c.duration_s:.2f}s"
        term.out(
            f"  {c.tier:<14} {c.checks:>6} {c.runs_per_month:>8,.0f} {last:>9} "
            f"{'$' + format(c.total, ',.2f'):>10} {'$' + format(c.synthetics, ',.2f'):>11}"
        )
    total = sum(c.total for c in rows)
    synthetics = sum(c.synthetics for c in rows)
    term.out(
        f"  {'total':<14} {'':>6} {'':>8} {'':>9} {'$' + format(total, ',.2f'):>10} "
        f"{'$' + format(synthetics, ',.2f'):>11}"
    )
    for c in rows:
        parts = ", ".join(f"{k} ${v:,.4f}" for k, v in c.lines.items())
        term.out(f"  {c.tier}: {parts}")
    for line in skipped:
        term.out(f"  not costed: {line}")
    if any(c.duration_s is None for c in rows):
        term.out("  (a tier not run yet counts no Lambda compute: run it once for its duration)")
    return 0
