"""The run-tier function of the benchmark: the real `TierFunction` (event parsing, shard 0's
fan-out through Lambda's Invoke API, metrics) over the local backend's stores in a shared
data directory, `HEALTHWATCH_DATA_DIR`.

Why not moto's: its TransactWriteItems deep-copies the whole table once per item of the
transaction, so a 20,000-check table in moto would benchmark moto (the tests run the real
handler against the stack in moto, at a size moto can take).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from healthwatch.runtime import local
from healthwatch.runtime.aws import TierFunction
from healthwatch.runtime.config_source import load_config_from_env
from healthwatch.runtime.invoke import SHARD_ATTEMPTS, LambdaInvoker
from healthwatch.runtime.settings import settings

logger = Logger()
metrics = Metrics()
ENV = settings(os.environ)
CONFIG = load_config_from_env(ENV)
RUN_TIER = TierFunction(
    ENV,
    local.build(CONFIG, os.environ["HEALTHWATCH_DATA_DIR"]),
    tuple(CONFIG.tiers),
    logger,
    LambdaInvoker(attempts=SHARD_ATTEMPTS),
)


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return RUN_TIER(event, metrics, context)
