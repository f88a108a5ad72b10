"""Chat providers: one module per provider, found by name, like `probes/`.

A provider module (``notify/chat/slack.py``) is a `ChatModule`: it exports ``Options`` (the
pydantic model of its keys under ``notifications.<name>``, a `WebhookOptions`) and
``Provider`` (a `ChatProvider` class with ``from_options(options, webhook_url)``). The
config validates ``notifications`` through `REGISTRY`, so adding a provider is adding its
module (and its test); nothing else names it.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from healthwatch.errors import DeliveryError, SecretError
from healthwatch.secrets import REFERENCE, Secrets

if TYPE_CHECKING:
    import requests
    from pydantic import BaseModel

    from healthwatch.models import AlertEvent
    from healthwatch.notify.chat.options import WebhookOptions

_DELIVERED_MEMORY = 1000


class ChatProvider(Protocol):
    """One chat destination (Slack, Discord): builds its payload and posts it."""

    name: str

    def payload(self, event: AlertEvent) -> dict: ...

    def send(
        self,
        event: AlertEvent,
        session: requests.Session,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None: ...


class ChatModule(Protocol):
    """What every provider module under `notify/chat/` provides (checked by `tests/contract`)."""

    Options: type[WebhookOptions]
    Provider: Any  # a ChatProvider class with from_options(options, webhook_url)


_HELPERS = {"options"}  # modules of this package that are not providers
_modules: dict[str, ChatModule] = {}


def known_providers() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_") and m.name not in _HELPERS
    )


def get(name: str) -> ChatModule:
    """The provider module for `name`; KeyError naming the known providers if there is none."""
    module = _modules.get(name)
    if module is None:
        if not name.isidentifier() or name not in known_providers():
            known = ", ".join(known_providers())
            raise KeyError(f"unknown notification provider {name!r} (known: {known})")
        module = cast(ChatModule, importlib.import_module(f"{__name__}.{name}"))
        _modules[name] = module
    return module


class _Registry:
    """The chat providers as the config sees them (`config.Registry`)."""

    def names(self) -> list[str]:
        return [*known_providers(), "email"]

    def options(self, name: str) -> type[BaseModel]:
        if name == "email":  # not a chat webhook: the local backend's SMTP mail
            from healthwatch.notify.smtp import Options

            return Options
        return get(name).Options


REGISTRY = _Registry()


class ChatDeliveryError(DeliveryError):
    """Some providers failed. `failed` names them; `errors` holds each one's DeliveryError."""

    def __init__(self, errors: dict[str, DeliveryError]) -> None:
        self.errors = errors
        self.failed = list(errors)
        detail = "; ".join(str(e) for e in errors.values())
        super().__init__(f"chat delivery failed for {', '.join(self.failed)}: {detail}")


def providers_from_config(
    notifications: Mapping[str, BaseModel], secrets: Secrets
) -> list[ChatProvider]:
    """The configured providers, their webhook URLs resolved now.

    An unresolvable reference raises `DeliveryError` naming the provider and the reference
    (after trying every provider, so one message lists every problem). The resolved URLs
    are remembered by `secrets`, so `secrets.redact` removes them from anything logged.
    """
    from healthwatch.notify.chat.options import WebhookOptions  # with the first provider read

    providers: list[ChatProvider] = []
    problems: list[str] = []
    for name, options in notifications.items():
        if not isinstance(options, WebhookOptions):
            continue  # not a chat provider's settings
        url = _resolve(name, options.webhook_url, secrets, problems)
        if url is not None:
            provider = get(name).Provider.from_options(options, url)
            provider.routing = options
            providers.append(provider)
    if problems:
        raise DeliveryError("; ".join(problems))
    return providers


def _resolve(provider: str, text: str, secrets: Secrets, problems: list[str]) -> str | None:
    refs = ", ".join(m.group(0) for m in REFERENCE.finditer(text)) or "webhook_url"
    try:
        url = secrets.resolve(text)
    except SecretError as exc:  # its message names the reference, never a value
        problems.append(f"{provider}: cannot resolve {refs}: {exc}")
        return None
    if not url.strip():
        problems.append(f"{provider}: {refs} resolved to an empty webhook URL")
        return None
    secrets.remember(url)  # a URL written literally in the config is a secret too
    return url


class ChatNotifier:
    """The `Notifier` for chat: every provider gets every event, whatever the others do.

    If any provider fails, `send` raises one `ChatDeliveryError` naming them after trying
    all. An event a provider already took is not posted to it again by this notifier (the
    Lambda retry of a half-failed delivery then only retries the provider that failed, as
    long as it lands in the same container).
    """

    def __init__(
        self,
        providers: Sequence[ChatProvider],
        session: requests.Session,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.providers = list(providers)
        self.session = session
        self.sleep = sleep
        self._delivered: OrderedDict[tuple[str, ...], None] = OrderedDict()

    def send(self, event: AlertEvent) -> None:
        errors: dict[str, DeliveryError] = {}
        for provider in self.providers:
            if not routed(provider, event):
                continue
            key = (provider.name, *_event_key(event))
            if key in self._delivered:
                continue
            error: DeliveryError | None = None
            try:
                provider.send(event, self.session, sleep=self.sleep)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a bug in one provider must not silence the others
                error = DeliveryError(f"{provider.name}: unexpected {type(exc).__name__}")
            if error is None:
                self._remember(key)
            else:
                errors[provider.name] = error
        if errors:
            raise ChatDeliveryError(errors)

    def _remember(self, key: tuple[str, ...]) -> None:
        self._delivered[key] = None
        while len(self._delivered) > _DELIVERED_MEMORY:
            self._delivered.popitem(last=False)


def routed(provider: ChatProvider, event: AlertEvent) -> bool:
    """Whether the provider's `events` and `min_severity` let `event` through."""
    routing = getattr(provider, "routing", None)
    return routing is None or bool(routing.accepts(event))


def _event_key(event: AlertEvent) -> tuple[str, ...]:
    return (event.check_id, event.event, event.at, event.started_at)
