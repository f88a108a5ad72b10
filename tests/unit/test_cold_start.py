"""What the run_tier function loads at cold start: only what its first run needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", "functions/run_tier/app.py")
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in WATCHED)))
"""


def _environment(checks_config: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "CHECKS_CONFIG": str(checks_config),
        "RESULTS_BUCKET": "results-bucket",
        "HISTORY_TABLE": "history-table",
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    }


def _loaded(env: dict[str, str], watched: list[str]) -> list[str]:
    code = f"WATCHED = {watched!r}\n" + PROBE
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    loaded: list[str] = json.loads(proc.stdout)
    return loaded


def test_the_handler_builds_without_importing_what_a_quick_run_does_not_use():
    # Given the deployed environment (no AWS call is made while building)
    env = _environment(ROOT / "checks.yaml")

    # When the handler module is imported, as Lambda's init phase does
    loaded = _loaded(env, ["requests", "google", "aiohttp", "healthwatch"])

    # Then it built its runtime, and neither requests (chat posts, Google tokens), google-auth
    # nor aiohttp (made by the first run's loop) was loaded; the probe modules were (the
    # config is validated against their options)
    assert "healthwatch.runtime.aws" in loaded
    assert [m for m in loaded if m.split(".")[0] in ("requests", "google", "aiohttp")] == []
    assert "healthwatch.probes.ga4" in loaded


def test_with_the_config_compiled_as_make_build_ships_it_the_handler_loads_no_pydantic(tmp_path):
    # Given the function's copy of checks.yaml and its compiled copy, as `make build` leaves them
    config = tmp_path / "checks.yaml"
    config.write_bytes((ROOT / "checks.yaml").read_bytes())
    make = [sys.executable, "-m", "healthwatch", "validate", "--compile", "--config", str(config)]
    subprocess.run(make, cwd=ROOT, check=True, capture_output=True, timeout=60)

    # When the handler module is imported
    loaded = _loaded(_environment(config), ["pydantic", "pydantic_core", "yaml", "healthwatch"])

    # Then it built its runtime from the compiled copy: neither pydantic nor PyYAML was loaded
    assert "healthwatch.runtime.aws" in loaded and "healthwatch.probes.ga4" in loaded
    assert [m for m in loaded if not m.startswith("healthwatch")] == []
