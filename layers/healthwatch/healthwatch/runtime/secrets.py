"""Secret sources: Secrets Manager and Parameter Store through Powertools, the environment."""

from __future__ import annotations

import threading
from typing import Any

from healthwatch.runtime.clients import client
from healthwatch.secrets import EnvSource, Secrets


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
