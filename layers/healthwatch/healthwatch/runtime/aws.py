"""The AWS backend: results in S3, history and alert state in DynamoDB, alerts to SNS."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from healthwatch.engine import Ports, new_run_id
from healthwatch.errors import DeliveryError, RunError
from healthwatch.models import utcnow
from healthwatch.notify.sns_message import alert_from_message
from healthwatch.runtime import Runtime, lambda_support
from healthwatch.runtime.chat import LazyChat
from healthwatch.runtime.clients import SNS_WORST_CASE_S, client, http_session
from healthwatch.runtime.config_source import load_config_from_env
from healthwatch.runtime.hooks import after_run_hooks, slo_burn
from healthwatch.runtime.secrets import aws_secrets
from healthwatch.runtime.settings import AwsSettings, settings

if TYPE_CHECKING:
    from healthwatch.config import Config
    from healthwatch.secrets import Secrets
    from healthwatch.storage.dynamodb import DynamoStore

log = logging.getLogger("healthwatch.runtime")


def ports(config: Config, env: AwsSettings, secrets: Secrets) -> Ports:
    """S3, DynamoDB and SNS adapters with the after-run hooks, from a checked environment."""
    from healthwatch.notify.sns import SnsNotifier
    from healthwatch.storage.s3 import S3ResultStore

    env = env.require("RESULTS_BUCKET", "HISTORY_TABLE", "ALERT_TOPIC_ARN")
    assert env.results_bucket and env.alert_topic_arn
    table = history(env)
    results = S3ResultStore(client("s3"), env.results_bucket)
    sns = SnsNotifier(client("sns"), env.alert_topic_arn, worst_case_s=SNS_WORST_CASE_S)
    return Ports(
        states=table,
        results=results,
        history=table,
        notifiers=[sns],
        slo=slo_burn(config, table, table),
        after_run=after_run_hooks(config, results=results, history=table),
    )


def history(env: AwsSettings | None = None) -> DynamoStore:
    """The DynamoDB history (and state) of the stack, for reading."""
    from healthwatch.storage.dynamodb import DynamoStore

    env = (env or settings()).require("HISTORY_TABLE")
    assert env.history_table
    return DynamoStore(client("dynamodb"), env.history_table, history_days=env.history_days)


def build(config: Config, env: AwsSettings | None = None) -> Runtime:
    """`healthwatch run --backend aws`: the deployed stack's stores, from the environment."""
    secrets = aws_secrets()
    env = env or settings()
    return Runtime(config, secrets, http_session(), ports(config, env, secrets))


@dataclass
class TierFunction:
    """The run_tier function: a scheduled event in, one tier run, metrics and a summary out."""

    env: AwsSettings
    runtime: Runtime
    tiers: tuple[str, ...]
    logger: Any

    def __call__(self, event: Any, metrics: Any, context: Any = None) -> dict[str, Any]:
        tier = lambda_support.tier_from_event(event, self.tiers)
        run_id = new_run_id(tier, utcnow())
        self.logger.append_keys(tier=tier, run_id=run_id)  # on every line, the engine's too
        try:
            run = self.runtime.run(tier, run_id=run_id, time_left=lambda_support.time_left(context))
        except RunError as exc:  # the checks ran; something was not stored or sent
            lambda_support.record_metrics(metrics, exc.run)
            self.logger.error("run finished with problems", extra={"problems": exc.problems})
            raise
        lambda_support.record_metrics(metrics, run)
        summary = run.summary()
        self.logger.info("run finished", extra={"summary": summary})
        return summary


def tier_function(environ: Mapping[str, str], logger: Any) -> TierFunction:
    """Built once per container: a bad environment or config fails the cold start."""
    lambda_support.route_package_logs(logger)
    env = settings(environ).require("RESULTS_BUCKET", "HISTORY_TABLE", "ALERT_TOPIC_ARN")
    config = load_config_from_env(env)
    tiers = lambda_support.served_tiers(config, env)
    runtime = build(config, env)
    lambda_support.redact_logs(logger, runtime.secrets)
    return TierFunction(env, runtime, tiers, logger)


@dataclass
class ChatFunction:
    """The chat function: SNS alert records in, one post per configured chat provider."""

    env: AwsSettings
    secrets: Secrets
    chat: LazyChat
    logger: Any

    def __call__(self, records: Any) -> dict[str, Any]:
        """Raises when a delivery still fails after its retries: Lambda retries the event,
        then sends it to the failure queue. Nothing is dropped silently."""
        posted, failed = 0, []
        for record in records:
            alert = alert_from_message(record.sns.message)
            if alert is None:  # a CloudWatch alarm moving to INSUFFICIENT_DATA: nothing to say
                continue
            self.logger.append_keys(
                check_id=alert.check_id, event=alert.event, run_id=alert.run_id, tier=alert.tier
            )
            try:
                self.chat.notifier.send(alert)
                posted += 1
            except DeliveryError as exc:
                text = self.secrets.redact(str(exc))
                self.logger.error("chat delivery failed", extra={"error": text})
                failed.append(text)
        if failed:
            raise DeliveryError("; ".join(failed))
        providers = len(self.chat.notifier.providers)
        self.logger.info("alerts posted", extra={"posted": posted, "providers": providers})
        return {"posted": posted, "providers": providers}


def chat_function(environ: Mapping[str, str], logger: Any) -> ChatFunction:
    """Webhook secrets are resolved at the first alert, not at cold start."""
    lambda_support.route_package_logs(logger)
    env = settings(environ)
    config = load_config_from_env(env)
    secrets = aws_secrets()
    lambda_support.redact_logs(logger, secrets)
    return ChatFunction(
        env, secrets, LazyChat(config.notifications, http_session(4), secrets), logger
    )
