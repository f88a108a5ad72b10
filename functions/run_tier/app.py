"""Lambda handler: a scheduled event -> run one tier of checks with the AWS backend."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from healthwatch.runtime import aws, lambda_support

logger = Logger()
metrics = Metrics()
# Built once per container: a bad environment or config fails the cold start.
RUN_TIER = aws.tier_function(os.environ, logger)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@lambda_support.tracing(RUN_TIER.env)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return RUN_TIER(event, metrics, context)
