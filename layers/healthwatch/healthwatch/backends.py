"""Build the adapters of one backend: `local` (a directory) or `aws` (S3, DynamoDB, SNS)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from healthwatch.engine import Backend
from healthwatch.models import AlertEvent
from healthwatch.notify import Notifier

if TYPE_CHECKING:
    import requests

    from healthwatch.config import Config
    from healthwatch.secrets import Secrets

DEFAULT_DATA_DIR = ".healthwatch"


def default_backend_name() -> str:
    return os.environ.get("HEALTHWATCH_BACKEND", "local")


class LazyChat:
    """Chat delivery whose webhook secrets are resolved at the first alert, not at start-up."""

    def __init__(self, config: Config, session: requests.Session, secrets: Secrets) -> None:
        self._config = config
        self._session = session
        self._secrets = secrets
        self._notifier: Notifier | None = None

    def send(self, event: AlertEvent) -> None:
        from healthwatch.notify.chat import ChatNotifier, providers_from_config

        if self._notifier is None:
            providers = providers_from_config(self._config.notifications, self._secrets)
            if not providers:
                return
            self._notifier = ChatNotifier(providers, self._session)
        self._notifier.send(event)


def local_backend(
    config: Config,
    data_dir: str | Path,
    *,
    session: requests.Session,
    secrets: Secrets,
    alert: bool = False,
) -> Backend:
    """Results, history and state in `data_dir`; alerts in alerts.jsonl, chat only with `alert`."""
    from healthwatch.notify.local import LocalNotifier
    from healthwatch.storage.local import LocalStore

    store = LocalStore(data_dir)
    chat = LazyChat(config, session, secrets) if alert else None
    notifier = LocalNotifier(store.alerts_path, chat)
    backend = Backend(states=store, results=store, history=store, notifier=notifier)
    from healthwatch.postrun import hooks

    backend.after_run.extend(hooks(config, backend, secrets))
    return backend


def build_backend(
    name: str,
    config: Config,
    *,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    session: requests.Session,
    secrets: Secrets,
    alert: bool = False,
) -> Backend:
    if name == "local":
        return local_backend(config, data_dir, session=session, secrets=secrets, alert=alert)
    if name == "aws":
        from healthwatch.aws import aws_backend

        return aws_backend(config, session=session, secrets=secrets)
    raise ValueError(f"unknown backend {name!r} (local or aws)")


def build_secrets(name: str) -> Secrets:
    from healthwatch.secrets import Secrets

    if name == "aws":
        from healthwatch.aws import aws_secrets

        return aws_secrets()
    return Secrets.local()
