"""healthwatch beside a lean asyncio + aiohttp reference, measured in one run.

Every figure is a ratio against something measured in the same run on the same machine
(shared and noisy), never an absolute target:

1. Scale: for N = 10 ... 10,000 http checks against one loopback target answering
   `{"status": "ok"}` after 100 ms, `healthwatch run` (a fresh process, local backend:
   config load, probes, alert state, results, rollups, status page) beside
   `benchmarks/reference.py` (a fresh process: the same N GETs, JSON parse, two
   conditions, one JSON Lines file), both at the same concurrency. healthwatch runs twice:
   on the config as written (read and validated by the run: pydantic, the YAML loader)
   and on its compiled copy (`validate --compile`, what `make build` ships to Lambda:
   read back without either). Wall time, peak RSS (from `wait4`), their ratios, and what
   each further 1,000 checks cost.
2. Cold start: importing the Lambda handler and building its runtime (config, clients),
   from the function and layer as `make build` lays them out and compiles them (bytecode,
   `checks.yaml.compiled`), beside a bare process that imports boto3 and creates the same
   clients, and beside that bare process plus the stack's usual floor (asyncio, PyYAML,
   a pydantic model, Powertools).
3. HotDash's quick tier: two checks answering after 100 and 300 ms; the run's wall time
   beside its slowest check.
4. SLO: a run of 1,000 checks with `slo:` and 30 days of stored history beside the same
   run without `slo:`.

The target runs in its own process (uvloop when installed) and is stopped at the end.

    make bench      # or: .venv/bin/python benchmarks/bench_engine.py [--sizes 10,100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DELAY = 0.1
SIZES = (10, 100, 1000, 5000, 10000)
CONCURRENCY = 256

# ---------------------------------------------------------------------- the target


def serve(conn: Connection, delays: dict[str, float]) -> None:
    """Child process: HTTP/1.1 keep-alive on 127.0.0.1, answering 200 after a delay chosen
    by the path's first segment (`/slow/...` -> delays["slow"], else delays["default"])."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    body = b'{"status":"ok"}'
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )

    class Http(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode() if b" " in head else "/"
                first = path.strip("/").split("/", 1)[0]
                delay = delays.get(first, delays["default"])
                asyncio.get_running_loop().call_later(delay, self._answer)

        def _answer(self) -> None:
            if not self.transport.is_closing():
                self.transport.write(answer)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Http, "127.0.0.1", 0, backlog=16384)
        conn.send(server.sockets[0].getsockname()[1])
        stopped: asyncio.Future[None] = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: stopped.done() or stopped.set_result(None))
        async with server:
            await stopped

    asyncio.run(main())


class Target:
    def __init__(self, delays: dict[str, float]) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve, args=(child, delays), daemon=True)
        self.url = ""

    def __enter__(self) -> Target:
        self._proc.start()
        if not self._conn.poll(30):
            raise RuntimeError("the target server did not start")
        self.url = f"http://127.0.0.1:{self._conn.recv()}"
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)


# ---------------------------------------------------------------------- measuring


@dataclass
class Measured:
    wall_s: float
    rss_mb: float
    returncode: int
    cpu_s: float = 0.0  # user + system time of the process


# The measured process is started by this small launcher, not by the bench itself: Linux
# counts in a child's peak RSS the memory of the process it was forked from, up to its exec
# (vfork or fork alike), so a bench grown by its in-process runs would inflate every
# figure after them. The launcher is a bare interpreter, smaller than anything measured.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{wall} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(argv: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """A fresh process: its wall time, peak RSS (`wait4`'s ru_maxrss, KiB on Linux) and CPU
    time, as the launcher saw them."""
    with tempfile.NamedTemporaryFile("r", prefix="hw-measure-", suffix=".txt") as report:
        proc = subprocess.run(
            [sys.executable, "-c", LAUNCHER, report.name, *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            check=False,
        )
        wall, maxrss, cpu = report.read().split()
    if proc.returncode not in (0,):
        err = proc.stderr.decode()
        sys.stderr.write(f"{argv[1:3]} exited {proc.returncode}: {err[-2000:]}\n")
    return Measured(float(wall), int(maxrss) / 1024, proc.returncode, float(cpu))


def bench_config(url: str, n: int, slo: bool = False, prefix: str = "check") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "defaults": {"timeout": "10s", "retry_interval": 0, "concurrency": CONCURRENCY},
        "tiers": {"bench": {"schedule": "rate(15 minutes)", "deadline": "120s"}},
        "checks": [
            {
                "id": f"{prefix}-{i:05d}",
                "tier": "bench",
                "url": f"{url}/check/{i}",
                "conditions": ["[STATUS] == 200", "[BODY].status == ok"],
            }
            for i in range(n)
        ],
    }
    if slo:
        doc["slo"] = {"availability": 99.9}
    return doc


def healthwatch_argv(config: Path, data: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "healthwatch",
        "run",
        "--tier",
        "bench",
        "--config",
        str(config),
        "--data-dir",
        str(data),
        "--no-color",
    ]


def compiled_copy(config: Path) -> Path:
    """A copy of `config` with its compiled form beside it (`validate --compile`, what
    `make build` ships): a run of it reads the config back without pydantic or PyYAML."""
    copy = config.with_name(f"compiled-{config.name}")
    copy.write_bytes(config.read_bytes())
    argv = [sys.executable, "-m", "healthwatch", "validate", "--compile", "--no-color"]
    subprocess.run([*argv, "--config", str(copy)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return copy


def scale(target: Target, sizes: Sequence[int], repeat: int) -> list[dict[str, float]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp:
        base = Path(tmp)
        for n in sizes:
            config = base / f"checks-{n}.json"
            config.write_text(json.dumps(bench_config(target.url, n)))
            compiled = compiled_copy(config)
            hw: list[Measured] = []
            hwc: list[Measured] = []
            ref: list[Measured] = []
            for i in range(repeat):  # interleaved, so drift on the machine hits all alike
                ref.append(
                    measure(
                        [
                            sys.executable,
                            str(ROOT / "benchmarks" / "reference.py"),
                            "--url",
                            target.url,
                            "--n",
                            str(n),
                            "--concurrency",
                            str(CONCURRENCY),
                            "--out",
                            str(base / f"ref-{n}-{i}.jsonl"),
                        ]
                    )
                )
                hw.append(measure(healthwatch_argv(config, base / f"data-{n}-{i}")))
                hwc.append(measure(healthwatch_argv(compiled, base / f"compiled-{n}-{i}")))
            if any(m.returncode for m in hw + hwc + ref):
                raise SystemExit(f"a run at N={n} failed (a down check): see above")
            row: dict[str, float] = {"n": n}
            for who, runs in (("hw", hw), ("hwc", hwc), ("ref", ref)):
                row[f"{who}_s"] = min(m.wall_s for m in runs)
                row[f"{who}_mb"] = max(m.rss_mb for m in runs)
            rows.append(row)
            cells = [f"  {n:>6,}  {row['ref_s']:>6.2f} s {row['ref_mb']:>4.0f} MB"]
            for who in ("hw", "hwc"):
                cells.append(
                    f"{row[f'{who}_s']:>6.2f} s {row[f'{who}_s'] / row['ref_s']:>4.2f}x "
                    f"{row[f'{who}_mb']:>4.0f} MB {row[f'{who}_mb'] / row['ref_mb']:>4.2f}x"
                )
            print(" | ".join(cells), flush=True)
    return rows


# ---------------------------------------------------------------------- cold start

BARE = """
import boto3
s = boto3.session.Session()
for name in ("dynamodb", "s3", "sns"):
    s.client(name)
"""

# The same, plus what the stack the function is built on costs before any healthwatch code:
# asyncio (the engine), PyYAML (checks.yaml), one pydantic model validated, and the
# Powertools Logger and Metrics the handler is wrapped in.
STACK = (
    BARE
    + """
import asyncio, yaml
from pydantic import BaseModel
class M(BaseModel):
    x: int = 1
M.model_validate({"x": 2})
from aws_lambda_powertools import Logger, Metrics
Logger(); Metrics()
"""
)

HANDLER = """
import sys
sys.path.insert(0, sys.argv[1])  # /var/task: the function's own code
import app
assert app.RUN_TIER.runtime.ports.states is not None  # built at import: config, clients, ports
assert app.__cached__ and "/python/healthwatch/" in sys.modules["healthwatch"].__file__
"""


def deployed(into: Path) -> tuple[Path, Path]:
    """The run_tier function and the healthwatch layer laid out as `make build` leaves them
    (`/var/task`, `/opt/python`), with `checks.yaml` and its compiled copy in the function,
    and compiled to bytecode by the same step (scripts/bytecode.py)."""
    import shutil

    task, layer = into / "task", into / "opt" / "python"
    shutil.copytree(
        ROOT / "functions" / "run_tier", task, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        ROOT / "layers" / "healthwatch" / "healthwatch",
        layer / "healthwatch",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "checks.yaml", task / "checks.yaml")
    healthwatch = [sys.executable, "-m", "healthwatch", "validate", "--compile", "--no-color"]
    subprocess.run(
        [*healthwatch, "--config", str(task / "checks.yaml")],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run([sys.executable, str(ROOT / "scripts" / "bytecode.py"), str(into)], check=True)
    return task, layer


def function_environment(logical_id: str = "RunQuickFunction") -> dict[str, str]:
    """The variables template.yaml gives a function (Globals, then its own), a `Ref` to a
    parameter at that parameter's default. What the stack names (bucket, table, topic) and
    what a condition picks are left to the caller."""
    from cfnlint.decode import decode_str

    template, errors = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    if errors or template is None:
        raise SystemExit(f"template.yaml: {errors}")
    params = template.get("Parameters", {})
    function = template["Resources"][logical_id].get("Properties", {})
    out: dict[str, str] = {}
    for props in (template["Globals"]["Function"], function):
        for name, value in props.get("Environment", {}).get("Variables", {}).items():
            if isinstance(value, str | int | float):
                out[name] = str(value)
            elif isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in params:
                out[name] = str(params[value["Ref"]]["Default"])
    return out


def cold_start(repeat: int) -> dict[str, float]:
    """Medians of fresh processes: wall time, and CPU time (less swayed by the machine's
    other load, which this shared machine has)."""
    tmp = tempfile.TemporaryDirectory(prefix="hw-deployed-")
    task, layer = deployed(Path(tmp.name))
    env = {
        "PYTHONPATH": str(layer),  # as Lambda puts /opt/python ahead of the runtime's own
        **os.environ,
        # As deployed: PYDANTIC_DISABLE_PLUGINS, the Powertools settings, the function's tiers.
        **function_environment(),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never called: building makes no request
        "CHECKS_CONFIG": str(task / "checks.yaml"),  # the function's copy, compiled beside it
        "RESULTS_BUCKET": "bench",
        "HISTORY_TABLE": "bench",
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench",
    }
    runs: dict[str, list[Measured]] = {"handler": [], "stack": [], "bare": []}
    with tmp:
        for _ in range(repeat):  # interleaved, so drift on the machine hits all three alike
            runs["bare"].append(measure([sys.executable, "-c", BARE], env))
            runs["stack"].append(measure([sys.executable, "-c", STACK], env))
            runs["handler"].append(measure([sys.executable, "-c", HANDLER, str(task)], env))
            if runs["handler"][-1].returncode or runs["stack"][-1].returncode:
                raise SystemExit("the handler or the stack did not start: see above")
    return {
        f"{who}_{what}": statistics.median(getattr(m, f"{what}_s") for m in measured)
        for who, measured in runs.items()
        for what in ("wall", "cpu")
    }


# ---------------------------------------------------------------------- in-process runs


def run_in_process(document: dict[str, Any], data: Path, tier: str) -> float:
    """One tier run as `healthwatch run` does it (local backend), timed around the run."""
    from healthwatch.runtime import local
    from healthwatch.runtime.config_source import parse_config
    from healthwatch.secrets import Secrets

    runtime = local.build(parse_config(json.dumps(document)), data, secrets=Secrets.local({}))
    start = time.perf_counter()
    runtime.run(tier)
    return time.perf_counter() - start


def hotdash_quick(repeat: int) -> tuple[float, float]:
    """The quick tier of checks.yaml, its URLs pointed at loopback: 100 ms and 300 ms."""
    from healthwatch.runtime.config_source import load_config

    config = load_config(str(ROOT / "checks.yaml"))
    quick = [c for c in config.checks if c.tier == "quick"]
    with Target({"default": 0.1, "slow": 0.3}) as target, tempfile.TemporaryDirectory() as tmp:
        paths = ["fast/health", "slow/health"]
        doc = {
            "defaults": {"retry_interval": 0},
            "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
            "checks": [
                {
                    "id": c.id,
                    "tier": "quick",
                    "url": f"{target.url}/{paths[i % 2]}",
                    "conditions": ["[STATUS] == 200", "[BODY].status == ok"],
                }
                for i, c in enumerate(quick)
            ],
        }
        walls = [run_in_process(doc, Path(tmp) / f"d{i}", "quick") for i in range(repeat + 1)]
    return min(walls[1:]), 0.3  # the first run warms imports; the slowest check is 300 ms


def seed_history(data: Path, n: int, days: int, every: timedelta) -> int:
    """`days` of runs of `n` checks, written as the engine writes them (results, rollups)."""
    from healthwatch.models import Result, TierRun, iso
    from healthwatch.storage.local import LocalStore

    store = LocalStore(data)
    now = datetime.now(UTC)
    at = now - timedelta(days=days)
    runs = 0
    while at < now - every:
        stamp = iso(at)
        results = [
            Result(
                f"bench-{runs}",
                "bench",
                f"slo-{i:05d}",
                f"slo-{i:05d}",
                "http",
                "http://x/",
                stamp,
                "down" if (i + runs) % 97 == 0 else "up",
                100.0,
            )  # type: ignore[arg-type]
            for i in range(n)
        ]
        run = TierRun(
            f"bench-{at:%Y-%m-%dT%H-%M-%SZ}-{runs % 65536:04x}", "bench", stamp, 1.0, results
        )
        store.write_run(run)
        store.put_results(run)
        at += every
        runs += 1
    return runs


def slo_with_history(repeat: int, n: int = 1000) -> tuple[float, float, int]:
    with Target({"default": DELAY}) as target, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        runs = seed_history(data, n, 30, timedelta(hours=1))
        with_slo, without = [], []
        for _ in range(repeat + 1):
            with_slo.append(run_in_process(bench_config(target.url, n, True, "slo"), data, "bench"))
            without.append(run_in_process(bench_config(target.url, n, False, "slo"), data, "bench"))
    return min(with_slo[1:]), min(without[1:]), runs


def full_rollup(path: Path) -> int:
    """The status page rollup at `path` as 90 days of a 15-minute tier leave it: every check
    with 90 days of 96 runs and a full sparkline (the shape `merge` keeps, filled in
    directly: folding 86 million results would take hours). Its size in bytes."""
    from healthwatch.codec import dumps
    from healthwatch.views import statuspage

    doc = statuspage.load_rollup(path.read_bytes(), "bench")
    for check in doc["checks"].values():
        days = statuspage.empty_days()
        today = datetime.fromisoformat(check["last"]["at"]).date()
        for back in range(statuspage.DAYS - 1, -1, -1):
            statuspage.add_day(days, (today - timedelta(days=back)).isoformat(), [96, 0, 0, 0])
        check["days"] = days
        check["latency"] = [100.0 + k for k in range(statuspage.LATENCY_POINTS)]
    raw = dumps(doc, default=statuspage.plain)
    path.write_bytes(raw)
    return len(raw)


def steady_state(target: Target, n: int) -> tuple[Measured, Measured, int]:
    """A first run of `n` checks, and a run once the status page holds 90 days of them."""
    with tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp:
        config, data = Path(tmp) / "checks.json", Path(tmp) / "data"
        config.write_text(json.dumps(bench_config(target.url, n)))
        first = measure(healthwatch_argv(config, data))
        size = full_rollup(data / "status" / "rollup-bench.json")
        later = measure(healthwatch_argv(config, data))
        if first.returncode or later.returncode:
            raise SystemExit("a steady-state run failed: see above")
    return first, later, size


# ---------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{os.cpu_count()} CPUs · target answers after {DELAY * 1000:.0f} ms · "
        f"concurrency {CONCURRENCY}"
    )
    print("\n1. healthwatch run vs the aiohttp reference (fresh processes, best of --repeat)")
    print("  validated: the config read and validated by the run · compiled: as make build ships")
    print(
        f"  {'N':>6}  {'reference':>14} | {'validated: wall, ratio, RSS, ratio':>34} | "
        f"{'compiled: wall, ratio, RSS, ratio':>34}"
    )
    with Target({"default": DELAY}) as target:
        rows = scale(target, sizes, args.repeat)
    big = [r for r in rows if r["n"] >= 1000]
    small = min(rows, key=lambda r: r["n"])
    if len(big) > 1 and small["n"] < big[0]["n"]:
        # The process's fixed cost (start, imports, the first run's tail) is the smallest
        # run's wall: what each further 1,000 checks add is the growth, without it.
        for who, name in (("hw", "validated"), ("hwc", "compiled"), ("ref", "reference")):
            added = [
                (r[f"{who}_s"] - small[f"{who}_s"]) / (r["n"] - small["n"]) * 1000 for r in big
            ]
            mean = statistics.mean(added)
            within = max(abs(a - mean) for a in added) / mean * 100
            shown = ", ".join(f"{a:.2f} s" for a in added)
            print(
                f"  {name}: each 1,000 checks past N={small['n']} adds {shown}"
                f" (all within ±{within:.0f} % of their mean)"
            )

    # Fresh processes vary by tens of milliseconds on a shared machine: a median of many.
    cold = cold_start(max(11, args.repeat))
    print("\n2. cold start (median of fresh processes, interleaved)")
    print(
        "  handler: import app (config, clients, ports) · stack: bare + asyncio, yaml,"
        " pydantic, Powertools · bare: boto3 + 3 clients"
    )
    for what in ("wall", "cpu"):
        handler, stack, bare = (cold[f"{who}_{what}"] for who in ("handler", "stack", "bare"))
        print(
            f"  {what:>4}: handler {handler:.3f} s · stack {stack:.3f} s · bare {bare:.3f} s · "
            f"handler/bare {handler / bare:.2f}x · stack/bare {stack / bare:.2f}x · "
            f"handler/stack {handler / stack:.2f}x"
        )

    wall, slowest = hotdash_quick(max(3, args.repeat))
    print("\n3. HotDash quick tier (checks at 100 ms and 300 ms)")
    print(f"  run {wall:.3f} s · slowest check {slowest:.3f} s · overhead {wall - slowest:.3f} s")

    with_slo, without, runs = slo_with_history(max(2, args.repeat))
    print(f"\n4. 1,000 checks, 30 days of stored history ({runs} runs)")
    print(
        f"  with slo: {with_slo:.3f} s · without: {without:.3f} s · ratio {with_slo / without:.2f}x"
    )

    n = max(sizes)
    with Target({"default": DELAY}) as target:
        first, later, size = steady_state(target, n)
    print(f"\n5. {n:,} checks once the status page holds 90 days ({size / 2**20:.1f} MB rollup)")
    print(
        f"  first run: {first.rss_mb:.0f} MB, {first.wall_s:.2f} s · "
        f"after 90 days: {later.rss_mb:.0f} MB, {later.wall_s:.2f} s (a 512 MB Lambda)"
    )


if __name__ == "__main__":
    main()
