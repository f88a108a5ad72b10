"""Plant unique credentials, run the command end to end, and search every output for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

from tests.fakes.chatwoot import ChatwootFake
from tests.fakes.flyio import FakeFly
from tests.fakes.openai import OpenAIFake
from tests.fakes.shopify import ShopifyFake
from tests.fakes.slack import FakeSlack


def _planted(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


def test_credentials_never_leave_the_run(tmp_path):
    good = {k: _planted(k) for k in ("shopify", "openai", "chatwoot", "fly", "chatwoot-returned")}
    wrong = {k: _planted(f"wrong-{k}") for k in ("shopify", "openai")}
    with (
        ShopifyFake(token=good["shopify"]) as shop,
        OpenAIFake(key=good["openai"]) as openai,
        ChatwootFake(token=good["chatwoot"]) as chatwoot,
        FakeFly(token=good["fly"], echo_token_in_errors=True) as fly,
        FakeSlack() as slack,
    ):
        chatwoot.returned_token = good["chatwoot-returned"]
        fly.add_app("app-one")
        fly.add_machine("app-one")
        (tmp_path / "checks.yaml").write_text(
            textwrap.dedent(f"""
            defaults: {{failure_threshold: 1, retry_interval: 0}}
            tiers: {{integrations: {{schedule: rate(1 hour)}}}}
            checks:
              - {{id: shop-bad, tier: integrations, type: shopify, shop: hotdash-test.myshopify.com,
                  base_url: "{shop.url}", token: "${{env:T_SHOP_WRONG}}"}}
              - {{id: shop-ok, tier: integrations, type: shopify, shop: hotdash-test.myshopify.com,
                  base_url: "{shop.url}", token: "${{env:T_SHOP}}"}}
              - {{id: openai-bad, tier: integrations, type: openai, base_url: "{openai.url}",
                  token: "${{env:T_OPENAI_WRONG}}"}}
              - {{id: openai-ok, tier: integrations, type: openai, base_url: "{openai.url}",
                  token: "${{env:T_OPENAI}}"}}
              - {{id: chatwoot, tier: integrations, type: chatwoot, base_url: "{chatwoot.url}",
                  token: "${{env:T_CHATWOOT}}"}}
              - {{id: fly-bad, tier: integrations, type: flyio, app: app-one, base_url: "{fly.url}",
                  token: "${{env:T_FLY_WRONG}}"}}
              - {{id: fly-ok, tier: integrations, type: flyio, app: app-one, base_url: "{fly.url}",
                  token: "${{env:T_FLY}}"}}
              - {{id: http-auth, tier: integrations, url: "{shop.url}/admin/api/2025-10/shop.json",
                  headers: {{X-Shopify-Access-Token: "${{env:T_SHOP_WRONG}}"}},
                  conditions: ["[STATUS] == 200"]}}
            notifications:
              slack: {{webhook_url: "${{env:T_SLACK}}"}}
        """)
        )
        slack_url = slack.webhook_url
        env = {
            **os.environ,
            "HEALTHWATCH_LOG_LEVEL": "DEBUG",
            "T_SHOP": good["shopify"],
            "T_SHOP_WRONG": wrong["shopify"],
            "T_OPENAI": good["openai"],
            "T_OPENAI_WRONG": wrong["openai"],
            "T_CHATWOOT": good["chatwoot"],
            "T_FLY": good["fly"],
            "T_FLY_WRONG": _planted("wrong-fly"),
            "T_SLACK": slack_url,
        }
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "healthwatch",
                "run",
                "--tier",
                "integrations",
                "--json",
                "--alert",
                "--config",
                str(tmp_path / "checks.yaml"),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        posted = json.dumps(slack.messages)

    doc = json.loads(proc.stdout)
    status = {r["check_id"]: r["status"] for r in doc["results"]}
    # The scenarios really took their paths: bad credentials down, good ones up.
    assert status["shop-bad"] == status["openai-bad"] == status["fly-bad"] == "down", status
    assert status["shop-ok"] == status["openai-ok"] == status["chatwoot"] == "up", status
    assert status["http-auth"] == "down"
    assert len(slack.messages) >= 4, "the down checks alerted through Slack"

    outputs = {"stdout": proc.stdout, "stderr": proc.stderr, "slack": posted}
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            outputs[str(path.relative_to(tmp_path))] = path.read_text(errors="replace")
    secrets = [*good.values(), *wrong.values(), env["T_FLY_WRONG"], slack_url.rsplit("/", 1)[-1]]
    for name, text in outputs.items():
        for value in secrets:
            assert value not in text, f"{value[:12]}... leaked into {name}"
            assert value[-16:] not in text, f"a piece of {value[:12]}... leaked into {name}"
