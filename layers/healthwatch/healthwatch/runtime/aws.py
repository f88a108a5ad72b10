"""The AWS backend: results in S3, history and alert state in DynamoDB, alerts to SNS."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from healthwatch.engine import Ports, new_run_id
from healthwatch.engine.shards import Shard, plan
from healthwatch.errors import DeliveryError, InvokeError, RunError
from healthwatch.models import AlertEvent, utcnow
from healthwatch.notify.chat import routed
from healthwatch.notify.sns_message import alert_from_message
from healthwatch.runtime import Runtime, lambda_support, settle_heap
from healthwatch.runtime.chat import LazyChat
from healthwatch.runtime.clients import SNS_WORST_CASE_S, client, lazy_http_session
from healthwatch.runtime.config_source import load_config_from_env
from healthwatch.runtime.hooks import after_run_hooks, slo_burn
from healthwatch.runtime.invoke import SHARD_ATTEMPTS, LambdaInvoker
from healthwatch.runtime.regions import remote_regions
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
        regions=remote_regions(config),
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
    """The run_tier function: a scheduled event in, one tier run, metrics and a summary out.

    A scheduled run of a tier with more than `shard_size` checks is shard 0: it queues an
    invocation of this same function for every other shard, then runs its own checks.
    """

    env: AwsSettings
    runtime: Runtime
    tiers: tuple[str, ...]
    logger: Any
    invoker: Any = None  # `engine.regions.Invoker` for the other shards

    def __call__(self, event: Any, metrics: Any, context: Any = None) -> dict[str, Any]:
        tier = lambda_support.tier_from_event(event, self.tiers)
        shard, run_id = lambda_support.shard_from_event(event)
        run_id = run_id or new_run_id(tier, utcnow())
        queued: list[str] = []
        if shard is None:
            shard = Shard(0, plan(self.runtime.config, tier))
            queued = self._fan_out(tier, shard.count, run_id, context)
        self.logger.append_keys(tier=tier, run_id=run_id, shard=shard.index)  # every line
        try:
            run = self.runtime.run(
                tier, run_id=run_id, time_left=lambda_support.time_left(context), shard=shard
            )
        except RunError as exc:  # the checks ran; something was not stored or sent
            lambda_support.record_metrics(metrics, exc.run)
            exc.problems += queued
            self.logger.error("run finished with problems", extra={"problems": exc.problems})
            raise
        lambda_support.record_metrics(metrics, run)
        if queued:  # this shard's checks ran and were stored; the others' may not run
            self.logger.error("shards not started", extra={"problems": queued})
            raise RunError(run, queued)
        summary = run.summary()
        self.logger.info("run finished", extra={"summary": summary})
        return summary

    def _fan_out(self, tier: str, shards: int, run_id: str, context: Any) -> list[str]:
        """Queue shards 1 to `shards - 1`; the problems of those that could not be queued."""
        if shards <= 1:
            return []
        function = self.env.function_name or getattr(context, "invoked_function_arn", None)
        if not function or self.invoker is None:
            return [f"shards 1-{shards - 1}: this function does not know its own name"]
        problems = []
        for index in range(1, shards):
            event = {"tier": tier, "shard": index, "shards": shards, "run_id": run_id}
            try:
                self.invoker.invoke_async(function, event)
            except InvokeError as exc:
                problems.append(f"shard {index} of {shards} not started: {exc}")
        self.logger.info("shards queued", extra={"shards": shards, "failed": len(problems)})
        return problems


def tier_function(environ: Mapping[str, str], logger: Any) -> TierFunction:
    """Built once per container: a bad environment or config fails the cold start."""
    lambda_support.route_package_logs(logger)
    env = settings(environ).require("RESULTS_BUCKET", "HISTORY_TABLE", "ALERT_TOPIC_ARN")
    config = load_config_from_env(env)
    tiers = lambda_support.served_tiers(config, env)
    lambda_support.check_home(config, env)
    runtime = build(config, env)
    lambda_support.redact_logs(logger, runtime.secrets)
    invoker = LambdaInvoker(attempts=SHARD_ATTEMPTS)  # this region's Lambda, built at first use
    return TierFunction(env, runtime, tiers, logger, invoker)


@dataclass
class ProbeFunction:
    """The probe function of a region that is not the home (`template-probe.yaml`): the
    checks it is asked for, probed from here with this region's secrets; nothing decided,
    stored or sent. Its answer is `{"region", "results": [result records]}`."""

    env: AwsSettings
    config: Config
    secrets: Secrets
    session: Any
    logger: Any

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        from healthwatch.engine import probe_checks
        from healthwatch.runtime.clients import aio_session

        tier, ids, run_id, attempts = lambda_support.probe_request(event, self.config)
        self.logger.append_keys(tier=tier, run_id=run_id)
        left = lambda_support.time_left(context)
        budget = left() + lambda_support.TAIL_RESERVE_S - PROBE_MARGIN_S if left else 1e9
        results = probe_checks(
            self.config,
            tier,
            ids,
            run_id=run_id,
            session=self.session,
            secrets=self.secrets,
            open_http=aio_session,
            budget_s=max(1.0, budget),
            attempts=attempts,
        )
        region = self.env.region or "unknown"
        self.logger.info("probed", extra={"region": region, "checks": len(results)})
        return {"region": region, "results": [r.to_dict() for r in results]}


# Kept back from the probe function's remaining time to serialise and return its answer.
PROBE_MARGIN_S = 2.0


def _storeless(environ: Mapping[str, str], logger: Any) -> tuple[AwsSettings, Config, Secrets]:
    """The cold start of a function without stores: logs routed, config read, secrets
    (resolved at first use) scrubbed from every log line."""
    lambda_support.route_package_logs(logger)
    env = settings(environ)
    config = load_config_from_env(env)
    secrets = aws_secrets()
    lambda_support.redact_logs(logger, secrets)
    settle_heap()
    return env, config, secrets


def probe_function(environ: Mapping[str, str], logger: Any) -> ProbeFunction:
    """Built once per container, like the tier function; it needs no stores."""
    env, config, secrets = _storeless(environ, logger)
    return ProbeFunction(env, config, secrets, lazy_http_session(), logger)


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
    env, config, secrets = _storeless(environ, logger)
    chat = LazyChat(config.notifications, lazy_http_session(4), secrets)
    return ChatFunction(env, secrets, chat, logger)
