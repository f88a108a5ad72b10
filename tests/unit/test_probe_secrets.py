"""No credential leaks from vendor probes: planted values never reach an observation or a log."""

from __future__ import annotations

import json
import logging
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import yaml
from healthwatch.errors import ProbeError
from healthwatch.probes import ProbeContext, chatwoot, ga4, openai, shopify
from healthwatch.runtime.config_source import parse_config
from healthwatch.secrets import Secrets

from tests.fakes import chatwoot as fake_chatwoot
from tests.fakes import ga4 as fake_google
from tests.fakes import openai as fake_openai
from tests.fakes import shopify as fake_shopify
from tests.fakes.chatwoot import ChatwootFake
from tests.fakes.ga4 import GoogleFake, ServiceAccount, make_service_account
from tests.fakes.openai import OpenAIFake
from tests.fakes.server import Response
from tests.fakes.shopify import ShopifyFake
from tests.helpers import call_probe


def planted(prefix: str) -> str:
    """A value that cannot occur by chance: a known prefix and a random body."""
    return prefix + "PLANTED" + secrets.token_hex(16)


SHOPIFY_TOKEN = planted("shpat_")
OPENAI_KEY = planted("sk-proj-")
CHATWOOT_TOKEN = planted("cw")
# What Chatwoot's profile hands back: the user's token, websocket token and HMAC key.
CHATWOOT_RETURNED = planted("cwret")
CHATWOOT_PUBSUB = planted("pubsub")
CHATWOOT_HMAC = planted("hmac")

REFERENCES = {
    "shopify": "${secret:hotdash/shopify-admin-token}",
    "chatwoot": "${secret:hotdash/chatwoot-api-token}",
    "ga4": "${secret:hotdash/ga4-service-account}",
    "openai": "${secret:hotdash/openai-api-key}",
}


@dataclass
class World:
    shopify: ShopifyFake
    chatwoot: ChatwootFake
    google: GoogleFake
    openai: OpenAIFake
    account: ServiceAccount
    dead: str  # a URL where nothing listens

    def environ(self, **override: str) -> dict[str, str]:
        env = {
            "HW_SECRET_HOTDASH_SHOPIFY_ADMIN_TOKEN": SHOPIFY_TOKEN,
            "HW_SECRET_HOTDASH_CHATWOOT_API_TOKEN": CHATWOOT_TOKEN,
            "HW_SECRET_HOTDASH_GA4_SERVICE_ACCOUNT": self.account.json,
            "HW_SECRET_HOTDASH_OPENAI_API_KEY": OPENAI_KEY,
        }
        env.update(override)
        return env

    def tokens(self) -> list[str]:
        """Every random-bodied credential: configured, and issued or returned by vendors."""
        return [
            SHOPIFY_TOKEN,
            OPENAI_KEY,
            CHATWOOT_TOKEN,
            CHATWOOT_RETURNED,
            CHATWOOT_PUBSUB,
            CHATWOOT_HMAC,
            *self.google.issued,
        ]

    def url(self, kind: str) -> str:
        fakes = {"shopify": self.shopify, "chatwoot": self.chatwoot, "ga4": self.google}
        return fakes.get(kind, self.openai).url


def key_material(key_json: str) -> list[str]:
    """A service-account key file, its private key, and each line of that key."""
    pem = json.loads(key_json)["private_key"]
    lines = [line for line in pem.splitlines() if line and "PRIVATE KEY" not in line]
    return [key_json, pem, *lines]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with (
        ShopifyFake(SHOPIFY_TOKEN) as shop,
        ChatwootFake(CHATWOOT_TOKEN, pubsub_token=CHATWOOT_PUBSUB) as chat,
        GoogleFake() as google,
        OpenAIFake(OPENAI_KEY) as oai,
    ):
        chat.returned_token = CHATWOOT_RETURNED
        chat.hmac_identifier = CHATWOOT_HMAC
        account = make_service_account(google.token_uri)
        google.register(account)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield World(shop, chat, google, oai, account, dead)


def check_for(kind: str, **options: Any) -> Any:
    check: dict[str, Any] = {"id": kind, "tier": "integrations", "type": kind}
    if kind == "ga4":
        check.update(property_id="345678901", credentials=REFERENCES["ga4"])
    else:
        check["token"] = REFERENCES[kind]
    if kind == "shopify":
        check["shop"] = "hotdash-test.myshopify.com"
    check.update(options)
    text = yaml.safe_dump(
        {"tiers": {"integrations": {"schedule": "rate(1 hour)"}}, "checks": [check]}
    )
    return parse_config(text).checks[0]


# (name, probe type, setup of the fakes -> check options and environment overrides)
Scenario = tuple[str, str, Callable[[World], tuple[dict[str, Any], dict[str, str]]]]


def _with(fake_attr: str, field: str, value: Any, **options: Any) -> Callable[[World], Any]:
    def setup(w: World) -> tuple[dict[str, Any], dict[str, str]]:
        setattr(getattr(w, fake_attr), field, value)
        return options, {}

    return setup


def _env(**override: str) -> Callable[[World], Any]:
    return lambda w: ({}, override)


def _dead(w: World) -> tuple[dict[str, Any], dict[str, str]]:
    return {"base_url": w.dead}, {}


def _foreign_key(w: World) -> tuple[dict[str, Any], dict[str, str]]:
    other = make_service_account(w.google.token_uri, email=w.account.email)
    return {}, {"HW_SECRET_HOTDASH_GA4_SERVICE_ACCOUNT": other.json}


SCENARIOS: list[Scenario] = [
    ("up", "shopify", _with("shopify", "override", None)),
    ("wrong token", "shopify", _env(HW_SECRET_HOTDASH_SHOPIFY_ADMIN_TOKEN=planted("shpat_"))),
    ("frozen", "shopify", _with("shopify", "override", fake_shopify.frozen())),
    ("throttled", "shopify", _with("shopify", "override", fake_shopify.throttled())),
    ("unreachable", "shopify", _dead),
    ("up", "chatwoot", _with("chatwoot", "override", None, account_id=1)),
    ("wrong token", "chatwoot", _env(HW_SECRET_HOTDASH_CHATWOOT_API_TOKEN=planted("cw"))),
    ("throttled", "chatwoot", _with("chatwoot", "override", fake_chatwoot.throttled())),
    ("health down", "chatwoot", _with("chatwoot", "health", Response(503, "down"))),
    ("unreachable", "chatwoot", _dead),
    ("up data", "ga4", _with("google", "api_override", None)),
    ("up admin", "ga4", _with("google", "api_override", None, api="admin")),
    ("foreign key", "ga4", _foreign_key),
    ("no permission", "ga4", _with("google", "granted", set())),
    ("revoked token", "ga4", _with("google", "api_override", fake_google.unauthenticated())),
    ("quota", "ga4", _with("google", "api_override", fake_google.quota_exhausted())),
    ("unreachable api", "ga4", _dead),
    ("up", "openai", _with("openai", "override", None, model="gpt-4o")),
    # OpenAI echoes part of a wrong key in its 401: here the planted key is the wrong one.
    ("wrong key", "openai", _with("openai", "key", planted("sk-proj-"))),
    ("no credit", "openai", _with("openai", "override", fake_openai.insufficient_quota())),
    ("rate limited", "openai", _with("openai", "override", fake_openai.rate_limited())),
    ("unreachable", "openai", _dead),
]

FRAGMENT = 8
MODULES = {"shopify": shopify, "chatwoot": chatwoot, "ga4": ga4, "openai": openai}


@pytest.mark.parametrize(
    ("name", "kind", "setup"), SCENARIOS, ids=[f"{k}-{n}" for n, k, _ in SCENARIOS]
)
def test_no_credential_in_observations_errors_or_logs(
    world: World,
    caplog: pytest.LogCaptureFixture,
    name: str,
    kind: str,
    setup: Callable[[World], tuple[dict[str, Any], dict[str, str]]],
) -> None:
    # Given fakes in the scenario's state, and every log record captured at DEBUG
    for fake in (world.shopify, world.chatwoot, world.google, world.openai):
        fake.reset()
    world.openai.key = OPENAI_KEY
    ga4.clear_token_cache()
    options, env = setup(world)
    options.setdefault("base_url", world.url(kind))
    check = check_for(kind, **options)
    ctx = ProbeContext(
        session=requests.Session(),
        secrets=Secrets.local(world.environ(**env)),
        timeout=5,
        now=lambda: datetime.now(UTC),
    )
    google_logger = logging.getLogger("google")
    propagate = google_logger.propagate
    google_logger.propagate = True  # google-auth hides its logs unless asked; ask
    caplog.set_level(logging.DEBUG)

    # When the probe runs (and again, so a cached token path is covered too)
    outputs: list[str] = []
    try:
        for _ in range(2):
            try:
                obs = call_probe(MODULES[kind], check, ctx)
            except ProbeError as exc:
                outputs += [str(exc), repr(exc), exc.message]
            else:
                outputs += [repr(obs), json.dumps(obs.details, default=str), str(obs.error)]
                outputs.append((obs.body or b"").decode("utf-8", "replace"))
    finally:
        google_logger.propagate = propagate
    outputs.append(check.target)
    outputs.append(caplog.text)
    for record in caplog.records:
        outputs += [record.getMessage(), repr(record.args), repr(record.__dict__)]

    # Then no credential appears anywhere, nor any run of 8 random characters of a token
    text = "\n".join(outputs)
    keys = [v for v in env.values() if v.startswith("{")]
    for value in [m for k in [world.account.json, *keys] for m in key_material(k)]:
        assert value not in text, f"{kind}/{name}: the service-account key leaked"
    for value in [*world.tokens(), *(v for v in env.values() if v not in keys)]:
        assert value not in text, f"{kind}/{name}: a credential leaked"
        assert fake_openai.masked(value) not in text, f"{kind}/{name}: a vendor echo leaked"
        secret_part = value.split("PLANTED", 1)[-1].removeprefix("ya29.c.")
        for i in range(len(secret_part) - FRAGMENT + 1):
            fragment = secret_part[i : i + FRAGMENT]
            assert fragment not in text, f"{kind}/{name}: a fragment of a credential leaked"


def test_the_scenarios_reach_their_paths(world: World) -> None:
    """Guard against a silent fake: the planted vendor-returned values were really served."""
    world.chatwoot.reset()
    ctx = ProbeContext(
        session=requests.Session(),
        secrets=Secrets.local(world.environ()),
        timeout=5,
        now=lambda: datetime.now(UTC),
    )
    obs = call_probe(chatwoot, check_for("chatwoot", base_url=world.chatwoot.url), ctx)
    assert obs.error is None
    for value in (CHATWOOT_RETURNED, CHATWOOT_PUBSUB, CHATWOOT_HMAC):
        assert ctx.secrets.redact(value) == "***"
