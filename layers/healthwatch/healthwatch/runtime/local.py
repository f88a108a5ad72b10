"""The local backend: results, history and state in a directory; alerts in alerts.jsonl."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from healthwatch.engine import Ports
from healthwatch.notify.local import LocalNotifier
from healthwatch.runtime import Runtime
from healthwatch.runtime.chat import chat_destinations
from healthwatch.runtime.clients import lazy_http_session
from healthwatch.runtime.hooks import after_run_hooks, slo_burn
from healthwatch.runtime.regions import remote_regions
from healthwatch.secrets import Secrets
from healthwatch.storage.local import LocalStore

if TYPE_CHECKING:
    from collections.abc import Mapping

    from healthwatch.config import Config
    from healthwatch.notify import Notifier

DEFAULT_DATA_DIR = ".healthwatch"


def data_dir(given: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """`--data-dir`, else `$HEALTHWATCH_DATA_DIR`, else `./.healthwatch`."""
    return given or environ.get("HEALTHWATCH_DATA_DIR", DEFAULT_DATA_DIR)


def build(
    config: Config,
    directory: str | Path = DEFAULT_DATA_DIR,
    *,
    alert: bool = False,
    secrets: Secrets | None = None,
) -> Runtime:
    """Everything in `directory`; chat (and SMTP) only with `alert`, so trying never pages."""
    secrets = secrets or Secrets.local()
    session = lazy_http_session()
    store = LocalStore(directory)
    # alerts.jsonl first, so an event is on disk before any chat provider is tried.
    notifiers: list[Notifier] = [LocalNotifier(store.alerts_path)]
    if alert:
        notifiers += chat_destinations(config.notifications, session, secrets)
        email = config.notifications.get("email")
        if email is not None:
            from healthwatch.notify.smtp import Options, SmtpNotifier

            assert isinstance(email, Options)
            notifiers.append(SmtpNotifier(email, secrets))
    ports = Ports(
        states=store,
        results=store,
        history=store,
        notifiers=notifiers,
        slo=slo_burn(config, store, store),
        after_run=after_run_hooks(config, results=store, history=store, states=store),
        owner_gone=process_gone,
        regions=remote_regions(config, local=True),
    )
    return Runtime(config, secrets, session, ports)


def process_gone(owner: str) -> bool:
    """A lease held by a run on this machine whose process no longer exists (killed, say):
    its events need not wait for the lease to lapse."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def history(directory: str | Path) -> LocalStore:
    """The stored history of a data directory, for reading."""
    return LocalStore(directory)
