"""The AWS backend: its checked environment, boto3 clients, adapters, secrets, handler helpers."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from healthwatch.config import Config, load_config, parse_config
from healthwatch.engine import Backend
from healthwatch.errors import ConfigError, UnknownTierError
from healthwatch.secrets import EnvSource, Secrets

if TYPE_CHECKING:
    import boto3
    import requests

    from healthwatch.models import TierRun
    from healthwatch.storage.dynamodb import DynamoStore

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("healthwatch.aws")

# Stack output -> variable, for `HEALTHWATCH_STACK=<name> healthwatch run --backend aws`.
STACK_OUTPUTS = {
    "ResultsBucket": "RESULTS_BUCKET",
    "HistoryTable": "HISTORY_TABLE",
    "AlertTopicArn": "ALERT_TOPIC_ARN",
}
_WHAT = {
    "RESULTS_BUCKET": "the results bucket",
    "HISTORY_TABLE": "the history table",
    "ALERT_TOPIC_ARN": "the alert topic",
}


class AwsSettings(BaseModel):
    """The environment of the functions (and of `--backend aws`), checked at cold start."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    results_bucket: str | None = Field(
        None, alias="RESULTS_BUCKET", pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$"
    )
    history_table: str | None = Field(
        None, alias="HISTORY_TABLE", pattern=r"^[A-Za-z0-9_.\-]{3,255}$"
    )
    alert_topic_arn: str | None = Field(
        None,
        alias="ALERT_TOPIC_ARN",
        pattern=r"^arn:[a-z\-]+:sns:[a-z0-9\-]+:\d{12}:[A-Za-z0-9_\-]+$",
    )
    checks_config: str = Field("checks.yaml", alias="CHECKS_CONFIG", min_length=1)
    history_days: int = Field(30, alias="HISTORY_DAYS", ge=1, le=3650)
    # The tiers one function runs (comma-separated); empty: any tier of the config.
    tiers: tuple[str, ...] = Field((), alias="HEALTHWATCH_TIERS")
    tracing: bool = Field(False, alias="HEALTHWATCH_TRACING")
    stack: str | None = Field(None, alias="HEALTHWATCH_STACK")

    @field_validator("tiers", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return value

    def require(self, *variables: str) -> AwsSettings:
        """`self`, or a ConfigError naming every variable that is not set."""
        fields = {f.alias: name for name, f in type(self).model_fields.items()}
        missing = [v for v in variables if getattr(self, fields[v]) is None]
        if missing:
            raise ConfigError(
                "environment",
                [
                    f"{v} is not set ({_WHAT.get(v, 'required')}): set it, or set "
                    "HEALTHWATCH_STACK to the stack name to read it from the stack's outputs"
                    for v in missing
                ],
            )
        return self


def settings(environ: Mapping[str, str] | None = None) -> AwsSettings:
    """The validated environment; ConfigError names each bad variable."""
    environ = os.environ if environ is None else environ
    names = {f.alias for f in AwsSettings.model_fields.values() if f.alias}
    values: dict[str, Any] = {k: environ[k] for k in names if environ.get(k, "").strip()}
    stack = values.get("HEALTHWATCH_STACK")
    if stack and any(v not in values for v in STACK_OUTPUTS.values()):
        for output, variable in _stack_outputs(stack).items():
            values.setdefault(variable, output)
    try:
        return AwsSettings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(
            "environment",
            [
                f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
                for e in exc.errors()
            ],
        ) from None


def _stack_outputs(stack: str) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client("cloudformation").describe_stacks(StackName=stack)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        raise ConfigError("environment", [f"HEALTHWATCH_STACK: {message}"]) from None
    except BotoCoreError as exc:
        raise ConfigError("environment", [f"HEALTHWATCH_STACK: {exc}"]) from None
    outputs = response["Stacks"][0].get("Outputs", [])
    return {
        o["OutputValue"]: STACK_OUTPUTS[o["OutputKey"]]
        for o in outputs
        if o["OutputKey"] in STACK_OUTPUTS
    }


# -- clients -----------------------------------------------------------------------------------

_session: boto3.session.Session | None = None
_session_lock = threading.Lock()


def boto_session() -> boto3.session.Session:
    """One boto3 session per process: clients made from it share its loaded service models."""
    global _session
    with _session_lock:
        if _session is None:
            import boto3

            _session = boto3.session.Session()
        return _session


def client(service: str) -> Any:
    """A client with bounded timeouts and standard retries (throttling, 5xx, connection errors).

    The endpoint comes from the environment (`AWS_ENDPOINT_URL`), which is how tests and
    `make invoke-local` point every client at a local moto server.
    """
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import NoRegionError

    config = BotoConfig(
        connect_timeout=5,
        read_timeout=20,
        retries={"mode": "standard", "max_attempts": 4},
        max_pool_connections=16,
        user_agent_extra="healthwatch",
    )
    try:
        return boto_session().client(service, config=config)  # type: ignore[call-overload]
    except NoRegionError:
        raise ConfigError(
            "environment", ["no AWS region: set AWS_REGION (or a region in your AWS profile)"]
        ) from None


# -- adapters ----------------------------------------------------------------------------------


def aws_backend(
    config: Config, *, session: requests.Session, secrets: Secrets, env: AwsSettings | None = None
) -> Backend:
    """Results in S3, history and alert state in DynamoDB, alerts to SNS, the after-run hooks."""
    from healthwatch.notify.sns import SnsNotifier
    from healthwatch.postrun import hooks
    from healthwatch.storage.s3 import S3ResultStore

    env = (env or settings()).require("RESULTS_BUCKET", "HISTORY_TABLE", "ALERT_TOPIC_ARN")
    assert env.results_bucket and env.alert_topic_arn
    table = _dynamo_store(env)
    backend = Backend(
        states=table,
        results=S3ResultStore(client("s3"), env.results_bucket),
        history=table,
        notifier=SnsNotifier(client("sns"), env.alert_topic_arn),
    )
    backend.after_run.extend(hooks(config, backend, secrets))
    return backend


def history_store(env: AwsSettings | None = None) -> DynamoStore:
    """The DynamoDB history, for reading (`healthwatch history --backend aws`)."""
    return _dynamo_store((env or settings()).require("HISTORY_TABLE"))


def _dynamo_store(env: AwsSettings) -> DynamoStore:
    from healthwatch.storage.dynamodb import DynamoStore

    assert env.history_table
    return DynamoStore(client("dynamodb"), env.history_table, history_days=env.history_days)


class ParameterSource:
    """A `SecretSource` over a Powertools Parameters provider (cached for
    `POWERTOOLS_PARAMETERS_MAX_AGE` seconds). The provider and its client are made at the
    first lookup, so a cold start pays only for the kinds of reference the config uses."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._provider: Any = None
        self._lock = threading.Lock()

    def _get_provider(self) -> Any:
        with self._lock:
            if self._provider is None:
                if self.kind == "secret":
                    from aws_lambda_powertools.utilities.parameters import SecretsProvider

                    self._provider = SecretsProvider(boto3_client=client("secretsmanager"))
                else:
                    from aws_lambda_powertools.utilities.parameters import SSMProvider

                    self._provider = SSMProvider(boto3_client=client("ssm"))
            return self._provider

    def get(self, name: str) -> str:
        provider = self._get_provider()
        value = provider.get(name) if self.kind == "secret" else provider.get(name, decrypt=True)
        if isinstance(value, bytes):
            return value.decode("utf-8")
        return str(value)


def aws_secrets() -> Secrets:
    """`${secret:...}` from Secrets Manager, `${ssm:...}` from Parameter Store, `${env:...}`."""
    return Secrets(
        {"env": EnvSource(), "secret": ParameterSource("secret"), "ssm": ParameterSource("ssm")}
    )


def load_config_from_env(env: AwsSettings | None = None) -> Config:
    """The config `CHECKS_CONFIG` names: `s3://bucket/key`, or a path (relative paths are
    looked up in the working directory, then in the function's package)."""
    source = (env or settings()).checks_config
    if source.startswith("s3://"):
        return _config_from_s3(source)
    path = Path(source)
    if not path.is_absolute() and not path.exists():
        for base in (os.environ.get("LAMBDA_TASK_ROOT"), os.environ.get("HEALTHWATCH_CONFIG_DIR")):
            if base and (Path(base) / path).exists():
                path = Path(base) / path
                break
    return load_config(path)


def _config_from_s3(uri: str) -> Config:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ConfigError(uri, ["expected s3://bucket/key"])
    try:
        body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ConfigError(uri, [f"cannot read the object ({code})"]) from None
    except BotoCoreError as exc:
        raise ConfigError(uri, [f"cannot read the object ({type(exc).__name__})"]) from None
    return parse_config(body.decode("utf-8"), uri)


# -- handler helpers ---------------------------------------------------------------------------


def served_tiers(config: Config, env: AwsSettings) -> tuple[str, ...]:
    """The tiers this function runs; a tier the config lacks is a cold-start error."""
    unknown = [t for t in env.tiers if t not in config.tiers]
    if unknown:
        raise ConfigError(
            "environment",
            [
                f"HEALTHWATCH_TIERS: {', '.join(map(repr, unknown))} not in the config "
                f"(tiers: {', '.join(config.tiers)})"
            ],
        )
    return env.tiers or tuple(config.tiers)


def tier_from_event(event: Any, served: Sequence[str]) -> str:
    """The tier an event asks for.

    EventBridge Scheduler (and a rule with a constant input) sends `{"tier": "quick"}`; a
    classic "Scheduled Event" names its rule, whose name must end with the tier
    (`healthwatch-quick`) unless its detail carries `{"tier": ...}`.
    """
    tier: Any = None
    if isinstance(event, Mapping):
        tier = event.get("tier")
        if tier is None and event.get("detail-type") == "Scheduled Event":
            from aws_lambda_powertools.utilities.data_classes.event_bridge_event import (
                EventBridgeEvent,
            )

            scheduled = EventBridgeEvent(dict(event))
            detail = scheduled.detail if isinstance(scheduled.detail, dict) else {}
            tier = detail.get("tier") or _tier_of_rules(scheduled.resources, served)
            if tier is None:
                raise UnknownTierError(
                    f"cannot tell the tier of a Scheduled Event from {scheduled.resources}: "
                    f"name the rule after a tier (e.g. healthwatch-{served[0]}) or give its "
                    f'target the input {{"tier": "{served[0]}"}}'
                )
    if not isinstance(tier, str) or not tier:
        raise UnknownTierError(
            'expected {"tier": "<name>"} (EventBridge Scheduler) or a Scheduled Event from a '
            f"rule named after a tier; tiers: {', '.join(served)}"
        )
    if tier not in served:
        raise UnknownTierError(f"unknown tier {tier!r}: this function runs {', '.join(served)}")
    return tier


def _tier_of_rules(resources: Sequence[str], tiers: Sequence[str]) -> str | None:
    for arn in resources:
        name = arn.rsplit("/", 1)[-1].lower()
        tokens = re.split(r"[-_.]", name)
        matches = [t for t in tiers if tokens[-1] == t or t in tokens]
        if not matches:
            matches = [t for t in tiers if t in name]
        if matches:
            return max(matches, key=len)
    return None


def record_metrics(metrics: Any, run: TierRun) -> None:
    """EMF metrics of a run: per tier on `metrics` (flushed by its decorator), and one
    document per check (dimensions tier, check_id) printed now."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    counts = run.counts()
    metrics.add_dimension("tier", run.tier)
    metrics.add_metric("Heartbeat", MetricUnit.Count, 1)
    metrics.add_metric("TierDuration", MetricUnit.Milliseconds, run.duration_ms)
    metrics.add_metric("ChecksDown", MetricUnit.Count, counts["down"])
    metrics.add_metric("ChecksDegraded", MetricUnit.Count, counts["degraded"])
    metrics.add_metric("Alerts", MetricUnit.Count, len(run.alerts))
    metrics.add_metric("UndeliveredAlerts", MetricUnit.Count, len(run.undelivered))
    for result in run.results:
        check = EphemeralMetrics()
        check.add_dimension("tier", run.tier)
        check.add_dimension("check_id", result.check_id)
        check.add_metric("CheckUp", MetricUnit.Count, 0 if result.status == "down" else 1)
        if result.latency_ms is not None:
            check.add_metric("CheckLatency", MetricUnit.Milliseconds, result.latency_ms)
        check.flush_metrics()


def tracing(env: AwsSettings) -> Callable[[F], F]:
    """Powertools Tracer's handler decorator when tracing is on; otherwise nothing (the X-Ray
    SDK is not even imported: it costs about a quarter of a second of cold start)."""
    if not (env.tracing or os.environ.get("POWERTOOLS_TRACE_ENABLED", "").lower() == "true"):
        return lambda handler: handler
    from aws_lambda_powertools import Tracer

    decorator: Callable[[F], F] = Tracer().capture_lambda_handler  # type: ignore[assignment]
    return decorator


def route_package_logs(logger: Any) -> None:
    """Send the package's own log lines (`healthwatch.*`) through the Powertools JSON logger,
    so they carry the same keys (tier, run_id, request id)."""
    package = logging.getLogger("healthwatch")
    if logger.name == package.name:  # POWERTOOLS_SERVICE_NAME=healthwatch: already the same
        return
    for handler in logger.handlers:
        if handler not in package.handlers:
            package.addHandler(handler)
    package.setLevel(logger.log_level)
    package.propagate = False


def redact_logs(logger: Any, secrets: Secrets) -> None:
    """Scrub every resolved secret from the function's log lines (its own, the package's,
    and the libraries' that reach the root logger, urllib3's request paths among them)."""
    from healthwatch.secrets import RedactingFilter

    scrub = RedactingFilter(secrets)
    for handler in [*logger.handlers, *logging.getLogger().handlers]:
        handler.addFilter(scrub)
