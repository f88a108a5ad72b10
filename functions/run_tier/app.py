"""Lambda handler: a scheduled event -> run one tier of checks with the AWS backend."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from healthwatch import aws
from healthwatch.engine import new_run_id, new_session, run_tier
from healthwatch.errors import RunError
from healthwatch.models import utcnow

# Built once per container: the environment is checked here, so a bad one fails the cold start.
logger = Logger()
metrics = Metrics()
aws.route_package_logs(logger)
ENV = aws.settings().require("RESULTS_BUCKET", "HISTORY_TABLE", "ALERT_TOPIC_ARN")
CONFIG = aws.load_config_from_env(ENV)
TIERS = aws.served_tiers(CONFIG, ENV)
SECRETS = aws.aws_secrets()
aws.redact_logs(logger, SECRETS)
SESSION = new_session()
BACKEND = aws.aws_backend(CONFIG, session=SESSION, secrets=SECRETS, env=ENV)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@aws.tracing(ENV)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    tier = aws.tier_from_event(event, TIERS)
    run_id = new_run_id(tier, utcnow())
    logger.append_keys(tier=tier, run_id=run_id)  # on every line, the engine's too
    try:
        run = run_tier(CONFIG, tier, BACKEND, session=SESSION, secrets=SECRETS, run_id=run_id)
    except RunError as exc:  # the checks ran; something was not stored or sent
        aws.record_metrics(metrics, exc.run)
        logger.error("run finished with problems", extra={"problems": exc.problems})
        raise
    aws.record_metrics(metrics, run)
    summary = run.summary()
    logger.info("run finished", extra={"summary": summary})
    return summary
