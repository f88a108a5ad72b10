"""A split tier's shards as separate processes, beside one shard alone, in one run.

The run-tier function (`benchmarks/local_tier_app.py`: the real `TierFunction` over the
local backend's stores in one shared data directory) is served by a local server speaking
Lambda's Invoke API (tests/fakes/lambda_api.py), each invocation in its own worker
process, as Lambda runs each in its own container. The schedule's event goes to shard 0,
which queues the others as `Event` invocations of the same function.

Measured against one loopback target answering after 100 ms (each shard's work is mostly
CPU: the ratio shows this machine's two cores shared by ten processes), then after 1 s
(slow targets: each shard mostly waits, so their waits overlap as on Lambda):
- one shard: a tier of `--shard-size` checks (one invocation);
- the split tier: `--checks` checks in shards of `--shard-size` (ten by default);
and the ratio of their wall times (from the schedule's invoke to the last shard's end),
with the checks stored and the alerts raised counted from the data directory: every
result stored once, one alert per down check (one check in a hundred fails).

This machine has 2 cores for every shard at once; on Lambda each shard has its own. The
CPU seconds of the workers are printed too, so the ratio can be read against that.

    make bench-shards   # or: .venv/bin/python benchmarks/bench_shards.py [--checks 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_engine import Target  # noqa: E402

from tests.fakes.lambda_api import Function, LambdaApi  # noqa: E402

HANDLER = ROOT / "benchmarks" / "local_tier_app.py"

FUNCTION = "healthwatch-RunQuickFunction"
DOWN_EVERY = 100  # one check in a hundred fails its condition


def config(path: Path, url: str, n: int, shard_size: int, prefix: str) -> int:
    """`n` checks, one in a hundred failing its condition; the number that fail."""
    checks = []
    down = 0
    for i in range(n):
        failing = i % DOWN_EVERY == 0
        down += failing
        checks.append(
            {
                "id": f"{prefix}-{i:05d}",
                "tier": "quick",
                "url": f"{url}/check/{i}",
                "conditions": ["[STATUS] == 201" if failing else "[STATUS] == 200"],
            }
        )
    doc = {
        "defaults": {
            "timeout": "10s",
            "retry_interval": 0,
            "failure_threshold": 1,
            "reminder_interval": 0,
        },
        "tiers": {
            "quick": {"schedule": "rate(15 minutes)", "deadline": "300s", "shard_size": shard_size}
        },
        "checks": checks,
    }
    path.write_text(json.dumps(doc))
    return down


def stored(data: Path, run_id: str) -> tuple[int, list[str]]:
    """(objects, every check id stored) of the run's result objects."""
    suffix = run_id.rsplit("-", 1)[-1]
    ids: list[str] = []
    files = list((data / "results").rglob(f"health-check-*-{suffix}*.json"))
    for path in files:
        ids += [json.loads(line)["check_id"] for line in path.read_bytes().splitlines()]
    return len(files), ids


def triggered(data: Path, prefix: str) -> list[str]:
    path = data / "alerts.jsonl"
    lines = path.read_bytes().splitlines() if path.exists() else []
    alerts = [json.loads(line) for line in lines]
    return [
        a["check_id"]
        for a in alerts
        if a["event"] == "triggered" and a["check_id"].startswith(prefix)
    ]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(url: str, n: int, shard_size: int, prefix: str) -> list[dict[str, Any]]:
    """Two scheduled runs on the same function: the first starts every container (its
    config load included), the second finds them warm, as a schedule's runs do."""
    import boto3
    from botocore.config import Config

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path, data = Path(tmp) / "checks.yaml", Path(tmp) / "data"
        down = config(path, url, n, shard_size, prefix)
        env = {
            "CHECKS_CONFIG": str(path),
            "HEALTHWATCH_DATA_DIR": str(data),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
            # as the template's Globals set them
            "POWERTOOLS_SERVICE_NAME": "healthwatch",
            "POWERTOOLS_METRICS_NAMESPACE": "Healthwatch",
        }
        fn = Function(HANDLER, env=env, timeout_s=900)
        with LambdaApi({FUNCTION: fn}) as api:
            fn.env["AWS_ENDPOINT_URL_LAMBDA"] = api.url
            client = boto3.client(
                "lambda",
                endpoint_url=api.url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(read_timeout=900, retries={"total_max_attempts": 1}),
            )
            for start_kind in ("cold", "warm"):
                before = len(api.invocations)
                cpu_before = sum(cpu_seconds(w.proc.pid) for w in api._all)
                start = time.perf_counter()
                answer = client.invoke(FunctionName=FUNCTION, Payload=b'{"tier": "quick"}')
                summary = json.loads(answer["Payload"].read())
                if "run_id" not in summary:
                    raise SystemExit(f"shard 0 failed: {json.dumps(summary)[:3000]}")
                api.wait_idle(900)
                wall = time.perf_counter() - start
                calls = api.invocations[before:]
                objects, ids = stored(data, summary["run_id"])
                rows.append(
                    {
                        "start": start_kind,
                        "checks": n,
                        "shards": summary.get("shards", 1),
                        "invoked": sorted(c.event.get("shard", 0) for c in calls),
                        "wall_s": wall,
                        "objects": objects,
                        "stored": len(ids),
                        "distinct": len(set(ids)),
                        "errors": [c.error for c in calls if c.error],
                        "workers_cpu_s": sum(cpu_seconds(w.proc.pid) for w in api._all)
                        - cpu_before,
                        "workers": len(api._all),
                    }
                )
        published = triggered(data, prefix)
    for row in rows:  # still down in the second run: no second alert
        row.update(down=down, alerts=len(published), distinct_alerts=len(set(published)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--shard-size", type=int, default=2_000)
    parser.add_argument(
        "--delays", default="0.1,1.0", help="the target's answer times, seconds (one run each)"
    )
    args = parser.parse_args()
    failed = False
    for delay in (float(d) for d in args.delays.split(",")):
        failed |= compare(args.checks, args.shard_size, delay)
    if failed:
        sys.exit(1)


def compare(checks: int, shard_size: int, delay: float) -> bool:
    """One shard beside the split tier against a target answering after `delay`; True when
    a count did not match."""
    with Target({"default": delay}) as target:
        single = one_run(target.url, shard_size, shard_size, "one")
        split = one_run(target.url, checks, shard_size, "split")
    cores = os.cpu_count() or 1
    print(
        f"\nShards through a local Invoke API server ({cores} cores), "
        f"target answering after {delay * 1000:.0f} ms"
    )
    print(
        f"  {'':<12} {'start':<5} {'checks':>7} {'shards':>6} {'wall':>8} {'stored':>7}"
        f" {'alerts':>6} {'workers cpu':>12}"
    )
    for name, rows in (("one shard", single), ("split tier", split)):
        for row in rows:
            print(
                f"  {name:<12} {row['start']:<5} {row['checks']:>7} {row['shards']:>6}"
                f" {row['wall_s']:>7.1f}s {row['stored']:>7} {row['alerts']:>6}"
                f" {row['workers_cpu_s']:>11.1f}s"
            )
    for one, many in zip(single, split, strict=True):
        ratio = many["wall_s"] / one["wall_s"]
        floor = many["workers_cpu_s"] / cores / one["wall_s"]
        print(
            f"  {one['start']}: wall of {many['shards']} shards / one shard {ratio:.2f}x"
            f" (all their CPU on {cores} cores / one shard's wall: {floor:.2f}x)"
        )
    failed = False
    for name, rows in (("one shard", single), ("split tier", split)):
        for row in rows:
            ok = (
                row["stored"] == row["distinct"] == row["checks"]
                and row["invoked"] == list(range(row["shards"]))
                and row["alerts"] == row["distinct_alerts"] == row["down"]
                and not row["errors"]
            )
            verdict = "every result stored once, one alert per down check" if ok else "MISMATCH"
            print(f"  {name}, {row['start']}: {row['objects']} result objects; {verdict}")
            if not ok:
                print(f"    {row}")
                failed = True
    return failed


if __name__ == "__main__":
    main()
