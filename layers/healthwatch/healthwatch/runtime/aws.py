"""The AWS backend: results in S3, history and alert state in DynamoDB, alerts to SNS."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from healthwatch.engine import Ports, new_run_id
from healthwatch.errors import DeliveryError, RunError
from healthwatch.models import AlertEvent, utcnow
from healthwatch.notify.chat import routed
from healthwatch.notify.sns_message import alert_from_message
from healthwatch.runtime import Runtime, lambda_support
from healthwatch.runtime.chat import LazyChat
from healthwatch.runtime.clients import SNS_WORST_CASE_S, client, lazy_http_session
from healthwatch.runtime.config_source import load_config_from_env
from healthwatch.runtime.hooks import after_run_hooks, slo_burn
from healthwatch.runtime.secrets import aws_secrets
from healthwatch.runtime.settings import AwsSettings, settings

if TYPE_CHECKING:
    from healthwatch.config import Config
    from healthwatch.notify.chat import ChatProvider
    from healthwatch.secrets import Secrets
    from healthwatch.storage.dynamodb import DynamoStore
    from healthwatch.storage.s3 import S3ResultStore

log = logging.getLogger("healthwatch.runtime")

IDEMPOTENCY_DAYS = 7  # how long a delivery is remembered: longer than SNS and Lambda retry


def ports(config: Config, env: AwsSettings, secrets: Secrets) -> Ports:
    """S3, DynamoDB and SNS adapters with the after-run hooks, from a checked environment."""
    from healthwatch.notify.sns import SnsNotifier

    env = env.require("RESULTS_BUCKET", "HISTORY_TABLE", "ALERT_TOPIC_ARN")
    assert env.results_bucket and env.alert_topic_arn
    table = history(env)
    results = results_store(env)
    sns = SnsNotifier(client("sns"), env.alert_topic_arn, attempts=1, worst_case_s=SNS_WORST_CASE_S)
    return Ports(
        states=table,
        results=results,
        history=table,
        notifiers=[sns],
        slo=slo_burn(config, table, table),
        after_run=after_run_hooks(config, results=results, history=table, states=table),
    )


def results_store(env: AwsSettings | None = None) -> S3ResultStore:
    """The stack's results bucket (result objects, latest/, the status page)."""
    from healthwatch.storage.s3 import S3ResultStore

    env = (env or settings()).require("RESULTS_BUCKET")
    assert env.results_bucket
    return S3ResultStore(client("s3"), env.results_bucket)


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
    return Runtime(config, secrets, lazy_http_session(), ports(config, env, secrets))


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


class ChatFunction:
    """The chat function: SNS alert records in, one post per configured chat provider.

    Each post is idempotent on (event id, provider) through Powertools' idempotency
    utility over `IDEMPOTENCY_TABLE`: SNS's at-least-once redelivery and Lambda's retry of
    a half-failed invocation post only where no earlier attempt succeeded.
    """

    def __init__(self, env: AwsSettings, secrets: Secrets, chat: LazyChat, logger: Any) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self.env, self.secrets, self.chat, self.logger = env, secrets, chat, logger
        table = env.require("IDEMPOTENCY_TABLE").idempotency_table
        assert table
        persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=client("dynamodb"))
        self.idempotency = IdempotencyConfig(
            event_key_jmespath="[id, provider]",
            expires_after_seconds=IDEMPOTENCY_DAYS * 86400,
            raise_on_no_idempotency_key=True,
        )
        self._post_once = idempotent_function(
            data_keyword_argument="delivery",
            persistence_store=persistence,
            config=self.idempotency,
        )(self._post)

    def _post(self, delivery: dict[str, Any]) -> dict[str, Any]:
        provider = self._providers()[delivery["provider"]]
        provider.send(AlertEvent.from_dict(delivery["event"]), self.chat.session, self.chat.sleep)
        return {"posted": delivery["provider"]}

    def _providers(self) -> dict[str, ChatProvider]:
        return {p.name: p for p in self.chat.notifier.providers}

    def __call__(self, records: Any, context: Any = None) -> dict[str, Any]:
        """Raises when a post still fails after its retries: Lambda retries the event (only
        the providers that failed are posted again), then sends it to the failure queue."""
        if context is not None:
            self.idempotency.register_lambda_context(context)
        posted, failed = 0, []
        for record in records:
            alert = alert_from_message(record.sns.message)
            if alert is None:  # a CloudWatch alarm moving to INSUFFICIENT_DATA: nothing to say
                continue
            self.logger.append_keys(
                check_id=alert.check_id, event=alert.event, run_id=alert.run_id, tier=alert.tier
            )
            try:
                providers = self._providers()
            except DeliveryError as exc:  # a webhook secret that cannot be read
                failed.append(self.secrets.redact(str(exc)))
                continue
            ok = True
            for name, provider in providers.items():
                if not routed(provider, alert):
                    continue
                delivery = {"id": alert.id, "provider": name, "event": alert.to_dict()}
                try:
                    self._post_once(delivery=delivery)
                except Exception as exc:  # one provider's failure: the others still go
                    text = self.secrets.redact(str(exc)) or type(exc).__name__
                    self.logger.error("chat delivery failed", extra={"error": text})
                    failed.append(text)
                    ok = False
            posted += ok
        if failed:
            raise DeliveryError("; ".join(failed))
        count = len(self.chat.notifier.providers)
        self.logger.info("alerts posted", extra={"posted": posted, "providers": count})
        return {"posted": posted, "providers": count}


def chat_function(environ: Mapping[str, str], logger: Any) -> ChatFunction:
    """Webhook secrets are resolved at the first alert, not at cold start."""
    lambda_support.route_package_logs(logger)
    env = settings(environ)
    config = load_config_from_env(env)
    secrets = aws_secrets()
    lambda_support.redact_logs(logger, secrets)
    chat = LazyChat(config.notifications, lazy_http_session(4), secrets)
    return ChatFunction(env, secrets, chat, logger)
