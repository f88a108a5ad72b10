"""The environment of the functions (and of `--backend aws`), validated at cold start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from healthwatch.errors import ConfigError
from healthwatch.runtime.clients import client

# Stack output -> variable, for `HEALTHWATCH_STACK=<name> healthwatch run --backend aws`.
STACK_OUTPUTS = {
    "ResultsBucket": "RESULTS_BUCKET",
    "HistoryTable": "HISTORY_TABLE",
    "AlertTopicArn": "ALERT_TOPIC_ARN",
    "IdempotencyTable": "IDEMPOTENCY_TABLE",
    "ResultsDatabaseName": "GLUE_DATABASE",
}
_WHAT = {
    "RESULTS_BUCKET": "the results bucket",
    "HISTORY_TABLE": "the history table",
    "ALERT_TOPIC_ARN": "the alert topic",
    "IDEMPOTENCY_TABLE": "the chat function's delivery table",
}


@dataclass(frozen=True, slots=True)
class _Variable:
    """One variable: its field, and what it must be (read by `settings`, no pydantic: the
    functions check their environment at every cold start)."""

    name: str
    field: str
    kind: type = str  # str, int, bool or tuple (comma-separated)
    pattern: str | None = None
    low: int | None = None
    high: int | None = None


_VARIABLES = (
    _Variable("RESULTS_BUCKET", "results_bucket", pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$"),
    _Variable("HISTORY_TABLE", "history_table", pattern=r"^[A-Za-z0-9_.\-]{3,255}$"),
    _Variable(
        "ALERT_TOPIC_ARN",
        "alert_topic_arn",
        pattern=r"^arn:[a-z\-]+:sns:[a-z0-9\-]+:\d{12}:[A-Za-z0-9_\-]+$",
    ),
    _Variable("IDEMPOTENCY_TABLE", "idempotency_table", pattern=r"^[A-Za-z0-9_.\-]{3,255}$"),
    _Variable("CHECKS_CONFIG", "checks_config"),
    _Variable("HISTORY_DAYS", "history_days", int, low=1, high=3650),
    _Variable("HEALTHWATCH_TIERS", "tiers", tuple),
    _Variable("HEALTHWATCH_TRACING", "tracing", bool),
    _Variable("HEALTHWATCH_STACK", "stack"),
    _Variable("GLUE_DATABASE", "glue_database", pattern=r"^[a-z0-9_]{1,255}$"),
    _Variable("ATHENA_WORKGROUP", "athena_workgroup"),
    _Variable("AWS_LAMBDA_FUNCTION_NAME", "function_name"),
    _Variable("AWS_REGION", "region"),
)
_FIELD_OF = {v.name: v.field for v in _VARIABLES}
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


@dataclass(frozen=True, slots=True)
class AwsSettings:
    """The environment of the functions (and of `--backend aws`), checked at cold start."""

    results_bucket: str | None = None
    history_table: str | None = None
    alert_topic_arn: str | None = None
    idempotency_table: str | None = None
    checks_config: str = "checks.yaml"
    history_days: int = 30
    # The tiers one function runs (comma-separated); empty: any tier of the config.
    tiers: tuple[str, ...] = ()
    tracing: bool = False
    stack: str | None = None
    # `healthwatch query --backend aws`: where Athena runs and writes its answers.
    glue_database: str = "healthwatch"
    athena_workgroup: str = "primary"
    # Set by Lambda: the function a tier's shards are invoked on, and where it probes from.
    function_name: str | None = None
    region: str | None = None

    def require(self, *variables: str) -> AwsSettings:
        """`self`, or a ConfigError naming every variable that is not set."""
        missing = [v for v in variables if getattr(self, _FIELD_OF[v]) is None]
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


def _value(variable: _Variable, text: str) -> Any:
    """`text` as the variable's value; ValueError saying what it should be."""
    if variable.kind is tuple:
        return tuple(t.strip() for t in text.split(",") if t.strip())
    if variable.kind is bool:
        word = text.strip().lower()
        if word not in _TRUE | _FALSE:
            raise ValueError("expected a boolean (true or false)")
        return word in _TRUE
    if variable.kind is int:
        try:
            number = int(text.strip())
        except ValueError:
            raise ValueError("expected a whole number") from None
        if variable.low is not None and number < variable.low:
            raise ValueError(f"must be at least {variable.low}")
        if variable.high is not None and number > variable.high:
            raise ValueError(f"must be at most {variable.high}")
        return number
    if variable.pattern and not re.match(variable.pattern, text):
        raise ValueError(f"should match the pattern {variable.pattern!r}")
    return text


def settings(environ: Mapping[str, str] | None = None) -> AwsSettings:
    """The validated environment; ConfigError names each bad variable. An empty variable
    is an unset one."""
    environ = os.environ if environ is None else environ
    given = {v.name: environ[v.name] for v in _VARIABLES if environ.get(v.name, "").strip()}
    stack = given.get("HEALTHWATCH_STACK")
    if stack and any(v not in given for v in STACK_OUTPUTS.values()):
        for output, variable in _stack_outputs(stack).items():
            given.setdefault(variable, output)
    values: dict[str, Any] = {}
    problems = []
    for var in _VARIABLES:
        if var.name not in given:
            continue
        try:
            values[var.field] = _value(var, given[var.name])
        except ValueError as exc:
            problems.append(f"{var.name}: {exc} (got {given[var.name]!r})")
    if problems:
        raise ConfigError("environment", problems)
    return AwsSettings(**values)


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
