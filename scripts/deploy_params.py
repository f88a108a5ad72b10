"""`make deploy`'s parameter overrides from checks.yaml: one source for the schedules.

Prints `QuickSchedule="rate(15 minutes)" QuickPeriodSeconds=900 ... TierNames="..."`
for `sam deploy --parameter-overrides`: each tier's schedule as the config has it (checked
against what EventBridge Scheduler accepts when the config loads), so the deployed
schedule and `tiers.<name>.schedule` cannot disagree. A tier with no function in
template.yaml is an error naming it (exit 2).

    python -m scripts.deploy_params [--config checks.yaml] [--template template.yaml]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from healthwatch.errors import ConfigError
from healthwatch.runtime.config_source import load_config

ROOT = Path(__file__).resolve().parent.parent


def schedule_parameters(template: str) -> dict[str, str]:
    """Tier name -> its `<Tier>Schedule` parameter, from the template's Parameters."""
    names = re.findall(r"^  ([A-Z][A-Za-z]*)Schedule:\s*$", template, re.M)
    return {name.lower(): f"{name}Schedule" for name in names}


def overrides(config_path: str, template_path: str) -> list[str]:
    config = load_config(config_path)
    params = schedule_parameters(Path(template_path).read_text(encoding="utf-8"))
    missing = [t for t in config.tiers if t not in params]
    if missing:
        raise ConfigError(
            config_path,
            [
                f"tiers.{t}: no function in {template_path} runs this tier "
                f"(it has {', '.join(params)}): add one, or rename the tier"
                for t in missing
            ],
        )
    template = Path(template_path).read_text(encoding="utf-8")
    out = []
    for tier, conf in config.tiers.items():
        out.append(f'{params[tier]}="{conf.schedule}"')
        period = params[tier].removesuffix("Schedule") + "PeriodSeconds"
        # The heartbeat alarm's period follows a rate() schedule (a cron() keeps its own).
        if conf.period_seconds is not None and re.search(rf"^  {period}:", template, re.M):
            out.append(f"{period}={int(conf.period_seconds)}")
    out.append(f'TierNames="{",".join(config.tiers)}"')
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "checks.yaml"))
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    args = parser.parse_args(argv)
    try:
        print(" ".join(overrides(args.config, args.template)))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
