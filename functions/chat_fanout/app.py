"""Lambda handler: SNS alert records -> every chat provider of the config (Slack, Discord)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from healthwatch.runtime import aws, lambda_support

logger = Logger()
# Built once per container; webhook secrets are resolved at the first alert.
CHAT = aws.chat_function(os.environ, logger)


@logger.inject_lambda_context(clear_state=True)
@lambda_support.tracing(CHAT.env)
@event_source(data_class=SNSEvent)
def handler(event: SNSEvent, context: Any) -> dict[str, Any]:
    """Raises when a delivery still fails: Lambda retries, then the failure queue has it."""
    return CHAT(event.records, context)
