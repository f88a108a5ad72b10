"""How much the engine's parallelism buys: one tier of N http checks against a 100 ms target.

For 10, 100 and 1000 checks (distinct paths on one loopback server that answers every
request after 100 ms), runs the tier with the engine's default worker count and again
with one worker per check, and prints the wall time beside the sequential time (the sum
of the checks' latencies: what one worker would take) and the ideal (the slowest single
check: what unlimited workers would take).

The target runs in its own process (asyncio, so 1000 concurrent requests cost it no
threads) and is stopped at the end. The first table leaves storage out (alert state in
memory, no result store), so it measures the engine; the second runs each tier once
with the local backend (a LocalStore in a temporary directory) to show what storing
the alert state and the results adds.

    make bench            # or: .venv/bin/python benchmarks/bench_engine.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import yaml
from healthwatch.config import Config
from healthwatch.engine import MAX_WORKERS, Ports, run_tier
from healthwatch.errors import ConflictError
from healthwatch.models import AlertState
from healthwatch.runtime.clients import http_session
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets
from healthwatch.storage.local import LocalStore

DELAY = 0.1  # seconds the target takes to answer
SIZES = (10, 100, 1000)


# ---------------------------------------------------------------------- the target


def serve(conn: Connection, delay: float) -> None:
    """Child process: an HTTP/1.1 server on 127.0.0.1 answering 200 after `delay`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip() or 0)
                if length:
                    await reader.readexactly(length)
                await asyncio.sleep(delay)
                body = b'{"status": "ok"}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[None] = loop.create_future()

        def on_stop() -> None:  # anything on the pipe, or the parent gone, stops the server
            if not stopped.done():
                stopped.set_result(None)

        loop.add_reader(conn.fileno(), on_stop)
        async with server:
            await stopped

    asyncio.run(main())


class Target:
    """The server process; a context manager so it is stopped however the run ends."""

    def __init__(self, delay: float) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve, args=(child, delay), daemon=True)
        self.port = 0

    def __enter__(self) -> Target:
        self._proc.start()
        if not self._conn.poll(30):
            raise RuntimeError("the target server did not start")
        self.port = int(self._conn.recv())
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):  # already gone: nothing to ask
            self._conn.send("stop")
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)


# ---------------------------------------------------------------------- the runs


def config_for(port: int, n: int) -> Config:
    document: dict[str, Any] = {
        "defaults": {"timeout": "10s", "retry_interval": 0},
        "tiers": {"bench": {"schedule": "rate(15 minutes)", "deadline": "120s"}},
        "checks": [
            {
                "id": f"check-{i:04d}",
                "tier": "bench",
                "url": f"http://127.0.0.1:{port}/check/{i}",
                "conditions": ["[STATUS] == 200"],
            }
            for i in range(n)
        ],
    }
    return parse_config(yaml.safe_dump(document))


@dataclass
class Row:
    checks: int
    workers: int
    total_s: float
    probe_s: float
    sequential_s: float
    ideal_s: float
    down: int

    @property
    def speedup(self) -> float:
        return self.sequential_s / self.total_s

    @property
    def efficiency(self) -> float:
        """The ideal over the wall time: 100% would be every check at once, for free."""
        return self.ideal_s / self.total_s


class MemoryStates:
    """A StateStore in memory, version-checked like the real ones: storage left out."""

    def __init__(self) -> None:
        self.states: dict[str, AlertState] = {}

    def load(self, check_ids: Iterable[str]) -> Mapping[str, AlertState]:
        return {cid: self.states.get(cid) or AlertState(check_id=cid) for cid in check_ids}

    def save(self, state: AlertState) -> AlertState:
        current = self.states.get(state.check_id)
        if (current.version if current else 0) != state.version:
            raise ConflictError(state.check_id)
        saved = dataclasses.replace(state, version=state.version + 1)
        self.states[state.check_id] = saved
        return saved

    def save_many(self, states: Sequence[AlertState]) -> dict[str, AlertState | ConflictError]:
        out: dict[str, AlertState | ConflictError] = {}
        for state in states:
            try:
                out[state.check_id] = self.save(state)
            except ConflictError as exc:
                out[state.check_id] = exc
        return out


def run_once(config: Config, workers: int, data_dir: str | None) -> Row:
    """One run of the tier; `data_dir` set: alert state and results go to a LocalStore."""
    if data_dir is None:
        backend = Ports(states=MemoryStates())
    else:
        store = LocalStore(data_dir)
        backend = Ports(states=store, results=store)
    session = http_session(workers)
    try:
        t0 = time.perf_counter()
        run = run_tier(
            config,
            "bench",
            backend,
            session=session,
            secrets=Secrets.local({}),
            max_workers=workers,
        )
        total = time.perf_counter() - t0
    finally:
        session.close()
    latencies = [(r.latency_ms or 0.0) / 1000 for r in run.results]
    return Row(
        checks=len(run.results),
        workers=min(workers, len(run.results)),
        total_s=total,
        probe_s=run.duration_ms / 1000,
        sequential_s=sum(latencies),
        ideal_s=max(latencies),
        down=sum(r.status != "up" for r in run.results),
    )


def median_run(config: Config, workers: int, repeat: int) -> Row:
    rows = [run_once(config, workers, None) for _ in range(repeat)]
    return sorted(rows, key=lambda r: r.probe_s)[len(rows) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the median is shown")
    parser.add_argument(
        "--no-storage", action="store_true", help="skip the second table (LocalStore runs)"
    )
    args = parser.parse_args(argv)

    print(
        f"healthwatch engine benchmark: http checks against a loopback target answering in "
        f"{DELAY * 1000:.0f} ms; {os.cpu_count()} CPUs; default workers {MAX_WORKERS}\n"
    )
    print(
        f"1. Probing, storage excluded (alert state in memory, no result store); "
        f"median of {args.repeat} runs"
    )
    print("   wall = run_tier; probe = its probing phase (TierRun.duration_ms)")
    print("   sequential = sum of the checks' latencies; ideal = the slowest single check\n")
    header = (
        f"{'checks':>6} {'workers':>7} {'wall s':>7} {'probe s':>7} {'sequential s':>12} "
        f"{'ideal s':>7} {'speed-up':>8} {'ideal/wall':>10} {'down':>4}"
    )
    print(header)
    print("-" * len(header))
    rows: list[Row] = []
    with Target(DELAY) as target:
        configs = {n: config_for(target.port, n) for n in SIZES}
        for n, config in configs.items():
            # The default pool; then, where it is smaller than the tier, one worker per check.
            for workers in [MAX_WORKERS] if n <= MAX_WORKERS else [MAX_WORKERS, n]:
                row = median_run(config, workers, args.repeat)
                rows.append(row)
                print(
                    f"{row.checks:>6} {row.workers:>7} {row.total_s:>7.2f} {row.probe_s:>7.2f} "
                    f"{row.sequential_s:>12.2f} {row.ideal_s:>7.3f} {row.speedup:>7.1f}x "
                    f"{row.efficiency:>10.0%} {row.down:>4}",
                    flush=True,
                )
        if not args.no_storage:
            print(
                f"\n2. The same tier with the local backend (alert state and results in a "
                f"LocalStore in a temp dir), {MAX_WORKERS} workers, one run each\n"
            )
            header = (
                f"{'checks':>6} {'wall s':>7} {'probe s':>7} {'state+results s':>15} "
                f"{'per check ms':>12}"
            )
            print(header)
            print("-" * len(header))
            for n, config in configs.items():
                with tempfile.TemporaryDirectory(prefix="hw-bench-") as data_dir:
                    row = run_once(config, MAX_WORKERS, data_dir)
                rows.append(row)
                after = row.total_s - row.probe_s
                print(
                    f"{row.checks:>6} {row.total_s:>7.2f} {row.probe_s:>7.2f} {after:>15.2f} "
                    f"{after / n * 1000:>12.1f}",
                    flush=True,
                )
    return 1 if any(r.down for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
