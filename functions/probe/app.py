"""Lambda handler of a probe region: the home's checks in, this region's observations out."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from healthwatch.runtime import aws

logger = Logger()
# Built once per container: a bad environment or config fails the cold start.
PROBE = aws.probe_function(os.environ, logger)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return PROBE(event, context)
