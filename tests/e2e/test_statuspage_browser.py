"""The status page in a real headless Chromium: what a person sees, on a desktop and a phone.

Set STATUS_PAGE_SCREENSHOT=docs/status-page.png to refresh the README's screenshot.
"""

from __future__ import annotations

import os
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from healthwatch.cli import main
from healthwatch.models import Result, TierRun, iso
from healthwatch.storage.keys import jsonl, result_key

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

CONFIG = """
version: 1
tiers:
  quick: {schedule: rate(15 minutes), description: Production /health endpoints}
  integrations: {schedule: rate(1 hour), description: Third-party APIs}
checks:
  - {id: agent-service, name: Agent SDK Service, tier: quick, url: "http://127.0.0.1:9/health"}
  - {id: llamaindex-mcp, name: LlamaIndex MCP Service, tier: quick, url: "http://127.0.0.1:9/h"}
  - {id: shopify, name: Shopify Admin API, tier: integrations, url: "http://127.0.0.1:9/s"}
"""
# What each check's card must say, given the history below.
EXPECTED = {
    "agent-service": ("Agent SDK Service", "Operational"),
    "llamaindex-mcp": ("LlamaIndex MCP Service", "Down"),
    "shopify": ("Shopify Admin API", "Degraded"),
}


def write_history(data_dir: Path, now: datetime) -> None:
    """75 days of results: rare outages, a slow day, and the MCP service down right now.

    Written as the local store lays them out (same keys, same JSON Lines), minus its fsyncs.
    """
    rnd = random.Random(5)
    plan = {
        "agent-service": ("quick", 15, 240),
        "llamaindex-mcp": ("quick", 15, 380),
        "shopify": ("integrations", 60, 310),
    }
    for day in range(75, -1, -1):
        for cid, (tier, every, base) in plan.items():
            start = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
            results = []
            for n in range(24 * 60 // every):
                at = start + timedelta(minutes=n * every, seconds=1)
                if at > now:
                    break
                latency = max(40.0, rnd.gauss(base, base / 6))
                status = "degraded" if latency > 500 else "up"
                if rnd.random() < 0.0015 or (cid == "agent-service" and day == 12 and n < 5):
                    status, latency = "down", None
                if cid == "llamaindex-mcp" and now - at < timedelta(minutes=50):
                    status, latency = "down", None
                # Its latest run (hourly) is slow, whatever the minute the test runs at.
                if cid == "shopify" and now - at < timedelta(minutes=60):
                    status, latency = "degraded", 900.0
                results.append(
                    Result(
                        f"{tier}-{iso(at)}",
                        tier,
                        cid,
                        EXPECTED[cid][0],
                        "http",
                        "http://x/",
                        iso(at),
                        status,
                        None if latency is None else round(latency, 1),  # type: ignore[arg-type]
                        error="timeout: no answer in 5s" if status == "down" else None,
                    )
                )
            if results:
                run = TierRun(
                    f"{tier}-{day}{cid.replace('-', '')}", tier, results[0].started_at, 1.0, results
                )
                path = data_dir / result_key(run)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(jsonl(run))


@pytest.fixture(scope="module")
def page_file(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("statuspage")
    (tmp / "checks.yaml").write_text(CONFIG)
    write_history(tmp / "data", datetime.now(UTC) - timedelta(minutes=1))
    out = tmp / "status" / "index.html"
    code = main(
        [
            "status-page",
            "--config",
            str(tmp / "checks.yaml"),
            "--data-dir",
            str(tmp / "data"),
            "--out",
            str(out),
            "--backend",
            "local",
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` (or .ci/run) installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("device", "viewport"),
    [
        ("desktop", {"width": 1000, "height": 1200}),
        ("phone", {"width": 390, "height": 844}),
    ],
)
def test_a_person_sees_each_check_its_status_and_its_bars(
    browser, page_file, tmp_path, device, viewport
):
    page = browser.new_page(viewport=viewport, device_scale_factor=2 if device == "phone" else 1)
    fetched: list[str] = []
    page.on("request", lambda req: fetched.append(req.url))
    page.goto(page_file.as_uri())

    # Nothing but the file itself was loaded: no scripts, fonts or images from elsewhere.
    assert fetched == [page_file.as_uri()]
    assert page.locator("#overall").inner_text() == "Partial outage"
    for cid, (name, status) in EXPECTED.items():
        card = page.locator(f'section[data-check="{cid}"]')
        assert card.locator(".name").inner_text() == name
        pill = card.locator(".pill")
        assert pill.is_visible() and pill.inner_text() == status
        bars = card.locator("svg.bars rect")
        assert bars.count() == 90
        box = card.locator("svg.bars").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] >= 30
        # The oldest days have no data (grey), today has some (not grey).
        grey = bars.first.evaluate("r => getComputedStyle(r).fill")
        assert bars.last.evaluate("r => getComputedStyle(r).fill") != grey
        assert card.locator("svg.spark polyline").count() == 1
    assert "LlamaIndex MCP Service" in page.locator("#open-incidents").inner_text()
    assert "Agent SDK Service" not in page.locator("#open-incidents").inner_text()
    # It fits the screen: nothing scrolls sideways, even on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    shot = tmp_path / f"status-page-{device}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    target = os.environ.get("STATUS_PAGE_SCREENSHOT")
    if target and device == "desktop":
        shutil.copyfile(shot, target)
    page.close()
