"""Probe types: one module per `type`, found by name, so adding a type is adding a module.

A probe module is a `ProbeModule`: it defines

- ``CATEGORY``: a `Category`, what the type watches (a service, the platform, a vendor);
- ``Options``: the keys that type adds to a check, a record made with `options`
  (`healthwatch.records`: slotted, keyword-only, unknown keys refused, validated by
  pydantic only when a config is read): each check holds one for the run;
- ``target(options) -> str``: what the result's ``target`` shows (never a resolved secret);
- ``probe(check, ctx) -> Observation``: one attempt, either ``async def`` (run on the
  engine's event loop, using ``ctx.http()``: the run's aiohttp session) or a plain function
  (run in the engine's thread pool, using ``ctx.session``: requests, for probes whose client
  library is synchronous). It raises ``ProbeError`` (or returns an ``Observation`` with
  ``error`` set) when the target could not be probed; any other exception is caught by
  the engine and becomes a ``down`` result.

The config validates a check's own keys through `REGISTRY`, so a new type needs no change
anywhere else; the contract suite in ``tests/contract`` picks it up by itself.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, cast

from healthwatch.records import record
from healthwatch.urls import proxy_environment

if TYPE_CHECKING:
    import aiohttp
    import requests

    from healthwatch.config import Check
    from healthwatch.models import Status
    from healthwatch.secrets import Secrets


@dataclass
class Observation:
    """What one attempt saw. The engine turns it into a `Result`."""

    latency_ms: float | None = None
    http_status: int | None = None
    body: bytes | None = None
    error: str | None = None
    # The class of `error` when the engine knows it as data (from a ProbeError or SecretError).
    error_kind: str | None = None
    ip: str | None = None
    connected: bool | None = None
    certificate_expiration_ms: float | None = None
    # A vendor probe's own judgement; None leaves the verdict to the conditions alone.
    verdict: Status | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Conditions applied when the check has none (http: "[STATUS] < 400").
    default_conditions: tuple[str, ...] = ()
    # Actions the probe took (a restart, say); copied into the result and the alert.
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ProbeContext:
    """What a probe may use: the HTTP clients, secrets, its deadline and its memory."""

    session: requests.Session  # for synchronous probes, in the engine's threads
    secrets: Secrets
    timeout: float
    now: Callable[[], datetime]
    # Persisted per check between runs (in the alert state): counters a probe keeps.
    memory: dict[str, Any] = field(default_factory=dict)
    # Runs the check has failed in a row before this one (from the alert state).
    consecutive_failures: int = 0
    # The run this attempt belongs to: re-probes within one run share it.
    run_id: str = ""
    # The proxy variables as the run started (`urls.proxy_for`).
    proxy_env: tuple[str | None, ...] = field(default_factory=proxy_environment)
    # The run's aiohttp session, for `async def` probes (made in the run's loop on first use).
    http: Callable[[], aiohttp.ClientSession] = field(default=lambda: _no_loop_client())


def _no_loop_client() -> aiohttp.ClientSession:
    raise RuntimeError("an async probe ran outside the engine's event loop")


class Category(StrEnum):
    """What a probe type watches: decides how the CLI groups it (the integrations line)."""

    SERVICE = "service"  # a service of ours: http, tls
    PLATFORM = "platform"  # where our services run: flyio
    INTEGRATION = "integration"  # a vendor we depend on: shopify, chatwoot, ga4, ...


# A probe type's `Options`: a record (`healthwatch.records`), validated like a pydantic
# model (errors, validators, `Field`) when a config is read, held as a slotted object. A
# model per check kept a dict of its fields and a set of those set, about 600 bytes each:
# 6 MB of a 10,000-check config.
options = record


class ProbeModule(Protocol):
    """What every module under `probes/` provides (checked by `tests/contract`)."""

    CATEGORY: Category
    Options: type[Any]  # made with `options`

    def target(self, options: Any) -> str: ...

    def probe(self, check: Check, ctx: ProbeContext) -> Observation | Awaitable[Observation]: ...


_modules: dict[str, ProbeModule] = {}


def known_types() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get(type_name: str) -> ProbeModule:
    """The probe module for `type_name`; KeyError with the known types when there is none."""
    module = _modules.get(type_name)
    if module is None:
        if not type_name.isidentifier() or type_name not in known_types():
            raise KeyError(f"unknown check type {type_name!r} (known: {', '.join(known_types())})")
        module = cast(ProbeModule, importlib.import_module(f"{__name__}.{type_name}"))
        _modules[type_name] = module
    return module


def category_of(type_name: str) -> Category:
    return get(type_name).CATEGORY


class _Registry:
    """The probe types as the config sees them (`config.ProbeRegistry`)."""

    def names(self) -> list[str]:
        return known_types()

    def options(self, name: str) -> type[Any]:
        return get(name).Options

    def target(self, name: str, options: Any) -> str:
        return str(get(name).target(options))


REGISTRY = _Registry()
