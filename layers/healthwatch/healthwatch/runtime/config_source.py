"""Where the config comes from: a file (looked up beside the function) or `s3://bucket/key`."""

from __future__ import annotations

import os
from pathlib import Path

from healthwatch import config, probes
from healthwatch.config import Config, Plugins
from healthwatch.errors import ConfigError
from healthwatch.notify import chat
from healthwatch.runtime.clients import client
from healthwatch.runtime.settings import AwsSettings, settings

PLUGINS = Plugins(probes=probes.REGISTRY, chat=chat.REGISTRY)


def load_config(path: str | Path, *, use_compiled: bool = True) -> Config:
    """The config in a file, validated against every probe type and chat provider (or its
    compiled copy, when that is this file's: `config.compiled`)."""
    return config.load_config(path, PLUGINS, use_compiled=use_compiled)


def compile_config(path: str | Path) -> tuple[Config, Path]:
    """Validate the file and write its compiled copy beside it; the config and that path."""
    return config.compile_config(path, PLUGINS)


def parse_config(text: str, source: str = "<config>") -> Config:
    return config.parse_config(text, PLUGINS, source)


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
