"""Config load: healthwatch's loader against libyaml alone, on the same files, in one run.

For 1,000 and 5,000 http checks (each with conditions and a header), measures
`runtime.config_source.load_config` (read, duplicate-key and alias checks, line index,
pydantic validation, conditions parsed) beside `yaml.load(..., CSafeLoader)` of the same
bytes (the floor: parsing alone), and peak memory of the worst corpus case (an alias bomb)
in a child process.

    make bench            # or: .venv/bin/python benchmarks/bench_config.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from healthwatch.runtime.config_source import load_config


def config_text(n: int) -> str:
    checks = "".join(
        f"  - id: svc-{i}\n    tier: quick\n    url: http://127.0.0.1:8080/health/{i}\n"
        f'    headers: {{X-Token: "${{env:TOKEN}}"}}\n'
        f'    conditions: ["[STATUS] == 200", "[BODY].status == ok", "[RESPONSE_TIME] < 500ms"]\n'
        for i in range(n)
    )
    return "version: 1\ntiers:\n  quick: {schedule: rate(15 minutes)}\nchecks:\n" + checks


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)

PEAK = """
import resource, sys
from healthwatch.runtime.config_source import load_config
from healthwatch.errors import ConfigError
try:
    load_config(sys.argv[1])
except ConfigError:
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print("config load: median of 5, this machine, one run\n")
        print(
            f"{'checks':>7} {'bytes':>9} {'healthwatch s':>14} {'libyaml only s':>15} {'ratio':>6}"
        )
        for n in (1000, 5000):
            path = Path(tmp) / f"c{n}.yaml"
            path.write_text(config_text(n))
            raw = path.read_bytes()
            ours = best(lambda p=path: load_config(p))
            floor = best(lambda r=raw: yaml.load(r, Loader=yaml.CSafeLoader))  # noqa: S506
            print(f"{n:>7} {len(raw):>9} {ours:>14.3f} {floor:>15.3f} {ours / floor:>5.1f}x")
        bomb = Path(tmp) / "bomb.yaml"
        bomb.write_text(BOMB + "version: 1\n")
        good = Path(tmp) / "c1000.yaml"
        peaks = {}
        for name, path in (("1,000 checks", good), ("alias bomb (refused)", bomb)):
            out = subprocess.run(
                [sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, check=True
            )
            peaks[name] = int(out.stdout.strip()) / 1024
        print()
        for name, mb in peaks.items():
            print(f"peak RSS loading {name}: {mb:.0f} MB")


if __name__ == "__main__":
    main()
