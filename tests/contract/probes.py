"""The probe contract: what every module under `healthwatch/probes/` does.

`tests/contract/test_probes.py` runs it over every registered type, found at run time, so
a new probe type is checked without anyone adding it here, and fails until `CASES` says
how to point one of its checks at a port that refuses connections.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from healthwatch import probes
from healthwatch.config import Check
from healthwatch.engine import RunContext, run_check
from healthwatch.errors import ConfigError, ErrorKind
from healthwatch.models import AlertState, Result
from healthwatch.probes import Category
from healthwatch.runtime.clients import aio_session
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets

SECRET = "hw-contract-secret-7c1e"  # what every credential reference resolves to
ENV = {"CONTRACT_TOKEN": SECRET}
TOKEN = "${env:CONTRACT_TOKEN}"

# type -> the options of a check aimed at http://127.0.0.1:{port}, which refuses.
CASES: dict[str, Callable[[int], dict[str, Any]]] = {
    "http": lambda port: {"url": f"http://127.0.0.1:{port}/health", "headers": {"X-Key": TOKEN}},
    "tls": lambda port: {"host": "127.0.0.1", "port": port},
    "flyio": lambda port: {
        "app": "hotdash",
        "token": TOKEN,
        "base_url": f"http://127.0.0.1:{port}",
    },
    "statuspage": lambda port: {
        "url": "https://status.example.com",
        "base_url": f"http://127.0.0.1:{port}",
    },
    "shopify": lambda port: {
        "shop": "hotdash.myshopify.com",
        "token": TOKEN,
        "base_url": f"http://127.0.0.1:{port}",
    },
    "chatwoot": lambda port: {"base_url": f"http://127.0.0.1:{port}", "token": TOKEN},
    "ga4": lambda port: {
        "property_id": "123456",
        "credentials": TOKEN,
        "base_url": f"http://127.0.0.1:{port}",
    },
    "openai": lambda port: {"token": TOKEN, "base_url": f"http://127.0.0.1:{port}"},
}


def config_text(type_name: str, options: dict[str, Any]) -> str:
    check = {"id": "contract", "tier": "quick", "type": type_name, **options}
    doc = {"tiers": {"quick": {"schedule": "rate(15 minutes)"}}, "checks": [check]}
    return json.dumps(doc)  # JSON is YAML


def case(type_name: str, port: int) -> dict[str, Any]:
    if type_name not in CASES:
        pytest.fail(f"add a contract case for probe type {type_name!r} to tests/contract/probes.py")
    return CASES[type_name](port)


def run_once(check: Check, environ: dict[str, str]) -> Result:
    with requests.Session() as session:
        ctx = RunContext(
            "quick-contract-0000",
            "quick",
            time.monotonic() + 20,
            session,
            Secrets.local(environ),
            sleep=lambda _: None,
            open_http=aio_session,
        )
        return run_check(check, AlertState(check.id), ctx)


class ProbeContract:
    """Subclass it as `Test...` with a `probe_type` fixture and a `refused_port` fixture."""

    def test_the_module_is_a_probe_module(self, probe_type):
        module = probes.get(probe_type)
        assert isinstance(module.CATEGORY, Category)
        # A slotted record refusing unknown keys (`probes.options`)
        assert dataclasses.is_dataclass(module.Options) and "__slots__" in vars(module.Options)
        assert module.Options.__record__.extra == "forbid"
        assert callable(module.target) and callable(module.probe)

    def test_an_unknown_key_is_a_config_error_naming_it(self, probe_type, refused_port):
        options = {**case(probe_type, refused_port), "no_such_option": 1}
        with pytest.raises(ConfigError) as info:
            parse_config(config_text(probe_type, options))
        assert "no_such_option" in str(info.value)

    def test_a_refused_target_is_down_with_a_known_error_class(self, probe_type, refused_port):
        cfg = parse_config(config_text(probe_type, case(probe_type, refused_port)))
        got = run_once(cfg.check("contract"), ENV)
        assert got.status == "down"
        assert got.error, "a down result says what broke"
        kind = got.error.split(":", 1)[0]
        assert kind in {k.value for k in ErrorKind}
        assert kind != ErrorKind.PROBE_ERROR
        assert got.latency_ms is not None and got.attempts >= 1

    def test_the_secret_never_reaches_the_result(self, probe_type, refused_port):
        cfg = parse_config(config_text(probe_type, case(probe_type, refused_port)))
        got = run_once(cfg.check("contract"), ENV)
        assert SECRET not in json.dumps(got.to_dict())


def takes_credential(type_name: str) -> bool:
    return type_name in CASES and TOKEN in json.dumps(CASES[type_name](1))


class CredentialProbeContract:
    """For the types whose checks take a credential (`probe_type` over those only)."""

    def test_a_missing_secret_is_named_not_sent(self, probe_type, refused_port):
        cfg = parse_config(config_text(probe_type, case(probe_type, refused_port)))
        got = run_once(cfg.check("contract"), {})
        assert got.status == "down"
        assert "CONTRACT_TOKEN" in (got.error or "")
