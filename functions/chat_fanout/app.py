"""Lambda handler: SNS alert records -> every chat provider of the config (Slack, Discord)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from healthwatch import aws
from healthwatch.engine import new_session
from healthwatch.errors import DeliveryError
from healthwatch.notify.chat import ChatNotifier, providers_from_config
from healthwatch.notify.sns_message import alert_from_message

logger = Logger()
aws.route_package_logs(logger)
ENV = aws.settings()
CONFIG = aws.load_config_from_env(ENV)
SECRETS = aws.aws_secrets()
aws.redact_logs(logger, SECRETS)
SESSION = new_session(4)
# Webhook secrets are resolved at the first alert, not at cold start (see `notifier`).
NOTIFIER: ChatNotifier | None = None


def notifier() -> ChatNotifier:
    global NOTIFIER
    if NOTIFIER is None:
        NOTIFIER = ChatNotifier(providers_from_config(CONFIG.notifications, SECRETS), SESSION)
    return NOTIFIER


@logger.inject_lambda_context(clear_state=True)
@aws.tracing(ENV)
@event_source(data_class=SNSEvent)
def handler(event: SNSEvent, context: Any) -> dict[str, Any]:
    """Raises when a delivery still fails after its retries: Lambda retries the event, then
    sends it to the failure queue. Nothing is dropped silently."""
    chat, posted, failed = notifier(), 0, []
    for record in event.records:
        alert = alert_from_message(record.sns.message)
        if alert is None:  # a CloudWatch alarm moving to INSUFFICIENT_DATA: nothing to say
            continue
        logger.append_keys(
            check_id=alert.check_id, event=alert.event, run_id=alert.run_id, tier=alert.tier
        )
        try:
            chat.send(alert)
            posted += 1
        except DeliveryError as exc:
            logger.error("chat delivery failed", extra={"error": SECRETS.redact(str(exc))})
            failed.append(SECRETS.redact(str(exc)))
    if failed:
        raise DeliveryError("; ".join(failed))
    logger.info("alerts posted", extra={"posted": posted, "providers": len(chat.providers)})
    return {"posted": posted, "providers": len(chat.providers)}
