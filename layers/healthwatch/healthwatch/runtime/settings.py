"""The environment of the functions (and of `--backend aws`), validated at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    idempotency_table: str | None = Field(
        None, alias="IDEMPOTENCY_TABLE", pattern=r"^[A-Za-z0-9_.\-]{3,255}$"
    )
    checks_config: str = Field("checks.yaml", alias="CHECKS_CONFIG", min_length=1)
    history_days: int = Field(30, alias="HISTORY_DAYS", ge=1, le=3650)
    # The tiers one function runs (comma-separated); empty: any tier of the config.
    tiers: tuple[str, ...] = Field((), alias="HEALTHWATCH_TIERS")
    tracing: bool = Field(False, alias="HEALTHWATCH_TRACING")
    stack: str | None = Field(None, alias="HEALTHWATCH_STACK")
    # `healthwatch query --backend aws`: where Athena runs and writes its answers.
    glue_database: str = Field("healthwatch", alias="GLUE_DATABASE", pattern=r"^[a-z0-9_]{1,255}$")
    athena_workgroup: str = Field("primary", alias="ATHENA_WORKGROUP", min_length=1)
    # Set by Lambda: the function a tier's shards are invoked on, and where it probes from.
    function_name: str | None = Field(None, alias="AWS_LAMBDA_FUNCTION_NAME")
    region: str | None = Field(None, alias="AWS_REGION")

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
