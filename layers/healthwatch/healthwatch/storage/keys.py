"""The storage layout of DESIGN.md, shared by the S3 and local result stores."""

from __future__ import annotations

import json
from collections.abc import Iterator

from healthwatch.models import TierRun, parse_iso

RESULTS_PREFIX = "results/"
ROLLUPS_PREFIX = "rollups/"
STATUS_PAGE_KEY = "status/index.html"
REPORTS_PREFIX = "reports/"


def shard_suffix(run: TierRun, sep: str = "-") -> str:
    """`-{shard}` for a shard of a split tier, nothing for a whole tier: the shards of one
    run share its id and may share its second, and never each other's keys."""
    return f"{sep}{run.shard}" if run.shards > 1 else ""


def result_key(run: TierRun) -> str:
    """`results/tier={tier}/dt={YYYY-MM-DD}/health-check-{YYYY-MM-DDTHH-MM-SSZ}-{id}.json`
    (`...-{id}-{shard}.json` for a shard)."""
    started = parse_iso(run.started_at)
    suffix = run.run_id.rsplit("-", 1)[-1]
    return (
        f"{RESULTS_PREFIX}tier={run.tier}/dt={started:%Y-%m-%d}/"
        f"health-check-{started:%Y-%m-%dT%H-%M-%SZ}-{suffix}{shard_suffix(run)}.json"
    )


def rollup_key(run: TierRun) -> str:
    """`rollups/tier={tier}/dt={YYYY-MM-DD}/{started_at}-{run_id}.json`: one run's outcomes
    (one per shard, `...-{run_id}-{shard}.json`)."""
    started = parse_iso(run.started_at)
    return (
        f"{ROLLUPS_PREFIX}tier={run.tier}/dt={started:%Y-%m-%d}/"
        f"{started:%Y-%m-%dT%H-%M-%S.%fZ}-{run.run_id}{shard_suffix(run)}.json"
    )


def latest_key(tier: str, shard: int = 0, shards: int = 1) -> str:
    """`latest/{tier}.json`; a split tier keeps one per shard, `latest/{tier}.shard-{k}.json`,
    so the last shard to finish never overwrites the others."""
    return f"latest/{tier}.shard-{shard}.json" if shards > 1 else f"latest/{tier}.json"


def latest_run_key(run: TierRun) -> str:
    return latest_key(run.tier, run.shard, run.shards)


def jsonl(run: TierRun) -> bytes:
    """One result record per line: what Athena's JSON SerDe reads."""
    return b"".join(jsonl_parts(run))


def jsonl_parts(run: TierRun) -> Iterator[bytes]:
    """`jsonl` in pieces, for a writer that streams (10,000 results are 4 MB)."""
    for line in run.result_lines():
        yield line
        yield b"\n"


def latest_document(run: TierRun) -> bytes:
    """The run's summary and its results (the lines `jsonl` wrote, not serialised again)."""
    return b"".join(latest_parts(run))


def latest_parts(run: TierRun) -> Iterator[bytes]:
    """`latest_document` in pieces."""
    head = json.dumps(run.summary(), indent=2)[:-2]  # without the closing "\n}"
    yield head.encode() + b',\n  "results": ['
    for i, line in enumerate(run.result_lines()):
        yield b",\n    " if i else b"\n    "
        yield line
    yield b"\n  ]\n}\n"
