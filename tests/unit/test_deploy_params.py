"""`make deploy` takes each tier's schedule from checks.yaml: one source, never two."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scripts.deploy_params import overrides, schedule_parameters

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = str(ROOT / "template.yaml")


def write(tmp_path: Path, tiers: dict[str, str]) -> str:
    doc = {
        "tiers": {t: {"schedule": s} for t, s in tiers.items()},
        "checks": [{"id": f"{t}-c", "tier": t, "url": "http://127.0.0.1:9/"} for t in tiers],
    }
    path = tmp_path / "checks.yaml"
    path.write_text(json.dumps(doc))
    return str(path)


def test_every_template_schedule_parameter_is_found():
    params = schedule_parameters(Path(TEMPLATE).read_text())
    assert params == {
        "quick": "QuickSchedule",
        "integrations": "IntegrationsSchedule",
        "comprehensive": "ComprehensiveSchedule",
    }


def test_the_config_schedules_become_the_deploy_parameters(tmp_path):
    config = write(tmp_path, {"quick": "rate(5 minutes)", "comprehensive": "cron(0 */6 * * ? *)"})
    assert overrides(config, TEMPLATE) == [
        'QuickSchedule="rate(5 minutes)"',
        "QuickPeriodSeconds=300",  # the heartbeat alarm follows the schedule
        'ComprehensiveSchedule="cron(0 */6 * * ? *)"',
        'TierNames="quick,comprehensive"',
    ]


def test_the_overrides_survive_the_shell_as_make_deploy_passes_them(tmp_path):
    # make deploy: schedules="$(python -m scripts.deploy_params)"; eval "sam deploy ... $schedules"
    config = write(tmp_path, {"quick": "rate(5 minutes)"})
    script = (
        f'schedules="$({sys.executable} -m scripts.deploy_params --config {config})" || exit 2; '
        "eval \"printf '%s\\n' $schedules\""
    )
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "QuickSchedule=rate(5 minutes)",
        "QuickPeriodSeconds=300",
        "TierNames=quick",
    ]


def test_a_tier_without_a_function_or_a_bad_schedule_is_exit_2_naming_it(tmp_path):
    no_function = write(tmp_path, {"quick": "rate(5 minutes)", "weekly": "rate(7 days)"})
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.deploy_params", "--config", no_function],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "tiers.weekly: no function in" in proc.stderr and proc.stdout == ""

    bad = write(tmp_path, {"quick": "rate(1 minutes)"})
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.deploy_params", "--config", bad],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "tiers.quick.schedule" in proc.stderr
