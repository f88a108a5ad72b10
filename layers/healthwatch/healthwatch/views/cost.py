"""What the config costs on AWS per month, beside the same checks as CloudWatch Synthetics.

From what is stored (each tier's last run: its duration, its size) and the schedules:
Lambda requests and GB-seconds, S3 PUTs and storage, DynamoDB writes, SNS publishes. No
free tier is counted. Prices: us-east-1, on-demand, from AWS's public price pages as of
2025 (README, "Cost"); they are constants here so the arithmetic can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECONDS_PER_MONTH = 30 * 86400

# us-east-1, as published by AWS (2025). Named so that a price change is one line.
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667  # x86
S3_PER_PUT = 0.005 / 1000
S3_PER_GB_MONTH = 0.023
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000  # on-demand
SNS_PER_PUBLISH = 0.50 / 1_000_000
SYNTHETICS_PER_CANARY_RUN = 0.0012

LAMBDA_MEMORY_GB = 0.5  # template.yaml's MemorySize: 512 for every tier function
# Per run: the JSON Lines object, latest/{tier}.json, the status page and its rollup.
S3_PUTS_PER_RUN = 4
# Per check and run: its history item, its alert state (both under 1 KB: one unit each).
DYNAMODB_WRITES_PER_CHECK = 2
DYNAMODB_WRITES_PER_RUN = 2  # the run summary and the outcomes rollup


@dataclass
class TierCost:
    tier: str
    checks: int
    runs_per_month: float
    duration_s: float | None  # the last stored run's; None: not run yet
    bytes_per_run: int
    lines: dict[str, float] = field(default_factory=dict)  # item -> USD per month

    @property
    def total(self) -> float:
        return sum(self.lines.values())

    @property
    def synthetics(self) -> float:
        """The same checks as Synthetics canaries: one canary run per check per run."""
        return self.checks * self.runs_per_month * SYNTHETICS_PER_CANARY_RUN


def tier_cost(
    tier: str,
    checks: int,
    period_s: float,
    duration_s: float | None,
    bytes_per_run: int,
    alerts_per_month: float = 0.0,
    shards: int = 1,
    regions: int = 1,
) -> TierCost:
    """`duration_s`: the run's Lambda time, every shard's added up. Each extra region runs
    one probe invocation per shard, taken as long as the home's."""
    runs = SECONDS_PER_MONTH / period_s
    cost = TierCost(tier, checks, runs, duration_s, bytes_per_run)
    seconds = duration_s or 0.0
    cost.lines = {
        "lambda requests": runs * shards * regions * LAMBDA_PER_REQUEST,
        "lambda compute": runs * seconds * regions * LAMBDA_MEMORY_GB * LAMBDA_PER_GB_SECOND,
        "s3 puts": runs * shards * S3_PER_PUT * S3_PUTS_PER_RUN,
        # A month of results, stored for the month (what the first month's bill shows).
        "s3 storage": runs * bytes_per_run / 1e9 * S3_PER_GB_MONTH,
        "dynamodb writes": runs
        * (checks * DYNAMODB_WRITES_PER_CHECK + DYNAMODB_WRITES_PER_RUN)
        * DYNAMODB_PER_WRITE_UNIT,
        "sns publishes": alerts_per_month * SNS_PER_PUBLISH,
    }
    return cost


def to_dict(costs: list[TierCost]) -> dict[str, Any]:
    return {
        "tiers": [
            {
                "tier": c.tier,
                "checks": c.checks,
                "runs_per_month": round(c.runs_per_month, 1),
                "duration_s": c.duration_s,
                "usd": {k: round(v, 4) for k, v in c.lines.items()},
                "usd_total": round(c.total, 4),
                "synthetics_usd": round(c.synthetics, 2),
            }
            for c in costs
        ],
        "usd_total": round(sum(c.total for c in costs), 4),
        "synthetics_usd_total": round(sum(c.synthetics for c in costs), 2),
        "prices": {
            "lambda_per_request": LAMBDA_PER_REQUEST,
            "lambda_per_gb_second": LAMBDA_PER_GB_SECOND,
            "s3_per_put": S3_PER_PUT,
            "s3_per_gb_month": S3_PER_GB_MONTH,
            "dynamodb_per_write_unit": DYNAMODB_PER_WRITE_UNIT,
            "sns_per_publish": SNS_PER_PUBLISH,
            "synthetics_per_canary_run": SYNTHETICS_PER_CANARY_RUN,
        },
    }
