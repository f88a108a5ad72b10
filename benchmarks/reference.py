"""The lean reference healthwatch is measured against: asyncio + aiohttp and nothing else.

N GETs to one URL (distinct paths), at most `--concurrency` in flight, each answer's JSON
parsed and two conditions applied (status 200, `status` == "ok"), one JSON Lines file
written. What a hand-written monitor would do; no config, no state, no alerts.

    python benchmarks/reference.py --url http://127.0.0.1:PORT --n 1000 --out results.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


async def main(url: str, n: int, concurrency: int, out: str) -> int:
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> dict[str, object]:
            async with slots:
                start = time.perf_counter()
                try:
                    async with session.get(
                        f"{url}/check/{i}", timeout=aiohttp.ClientTimeout(10)
                    ) as resp:
                        body = await resp.read()
                        ok = resp.status == 200 and json.loads(body).get("status") == "ok"
                        error = None
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    ok, error = False, type(exc).__name__
                return {
                    "check_id": f"check-{i:05d}",
                    "status": "up" if ok else "down",
                    "latency_ms": round((time.perf_counter() - start) * 1000, 1),
                    "error": error,
                }

        results = await asyncio.gather(*(one(i) for i in range(n)))
    with open(out, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in results)
    return sum(1 for r in results if r["status"] != "up")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    down = asyncio.run(main(args.url, args.n, args.concurrency, args.out))
    raise SystemExit(1 if down else 0)
