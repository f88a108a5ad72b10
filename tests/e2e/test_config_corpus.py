"""A corpus of broken configs, each run through the real command in its own process.

Each case must end with exit 2 and a message naming the field or the line, no traceback,
nothing written to the data directory, within a hang guard and a memory cap (an alias bomb
or a huge file must be refused, not expanded).
"""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from tests.helpers import healthwatch

GOOD_CHECK = '  - {id: api, tier: quick, url: "http://127.0.0.1:8080/health"}\n'
HEAD = "version: 1\ntiers:\n  quick: {schedule: rate(15 minutes)}\nchecks:\n"
MEMORY_CAP = 1 << 30  # 1 GiB of address space for the whole command
HANG_GUARD_S = 60


def config(checks: str = GOOD_CHECK, head: str = HEAD, tail: str = "") -> str:
    return head + checks + tail


def check(**fields: str) -> str:
    base = {"id": "api", "tier": "quick", "url": '"http://127.0.0.1:8080/health"'}
    base.update(fields)
    return "  - {" + ", ".join(f"{k}: {v}" for k, v in base.items()) + "}\n"


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)

BODY_BOMB = (
    "{a: &a [x, x, x, x, x, x, x, x, x, x], "
    + ", ".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "}"
)

CASES: dict[str, tuple[str | bytes, list[str]]] = {
    # -- the file itself
    "not yaml": ("tiers: [unclosed\n", ["line", "not valid YAML"]),
    "not a mapping": ("- just\n- a list\n", ["must be a mapping"]),
    "empty file": ("", ["must be a mapping"]),
    "not utf-8": (HEAD.encode() + b"  - {id: caf\xe9, tier: quick}\n", ["line 5", "not UTF-8"]),
    "huge file": (config() + "# " + "x" * (17 << 20) + "\n", ["over 16 MiB"]),
    "alias bomb": (BOMB + config(), ["aliases expand"]),
    "alias bomb in a body": (config(check(body=BODY_BOMB)), ["aliases expand"]),
    # -- duplicate keys
    "second checks": (
        config() + "checks:\n" + check(id="web"),
        ["duplicate key 'checks'", "line 4"],
    ),
    "second tiers": (
        config() + "tiers:\n  other: {schedule: rate(1 hour)}\n",
        ["duplicate key 'tiers'"],
    ),
    "duplicate timeout": (
        "version: 1\ndefaults:\n  timeout: 5s\n  timeout: 10s\n" + HEAD[11:] + GOOD_CHECK,
        ["line 4", "duplicate key 'timeout'", "first at line 3"],
    ),
    "duplicate key in a check": (
        config(
            "  - id: api\n    tier: quick\n    url: http://127.0.0.1:1/\n    url: http://127.0.0.1:2/\n"
        ),
        ["duplicate key 'url'"],
    ),
    # -- shape
    "missing checks": (HEAD.replace("checks:\n", ""), ["checks", "Field required"]),
    "missing tiers": ("version: 1\nchecks:\n" + GOOD_CHECK, ["tiers", "Field required"]),
    "unknown top-level key": (config() + "alerts: {}\n", ["unknown key 'alerts'"]),
    "typo in a check key": (
        config(check(failure_treshold="3")),
        ["failure_treshold", "did you mean"],
    ),
    "unknown type": (config(check(type="ping")), ["unknown check type 'ping'"]),
    "bad id": (config(check(id='"Bad Id"')), ["checks[0].id"]),
    "duplicate id": (config(GOOD_CHECK + GOOD_CHECK), ["duplicate check id 'api'", "line 6"]),
    "unknown tier": (
        config(GOOD_CHECK + check(id="web", tier="hourly")),
        ["line 6", "unknown tier 'hourly'"],
    ),
    "wrong version": (config().replace("version: 1", "version: 2"), ["version"]),
    # -- durations and thresholds
    "nan timeout": (config(check(timeout=".nan")), ["timeout", "finite"]),
    "inf timeout": (config(check(timeout=".inf")), ["timeout", "finite"]),
    "negative timeout": (config(check(timeout="-5")), ["timeout", "negative"]),
    "absurd duration": (
        config(check(reminder_interval="99999d")),
        ["reminder_interval", "longer than a year"],
    ),
    "unknown duration unit": (config(check(timeout="5 parsecs")), ["timeout", "invalid duration"]),
    "huge threshold": (config(check(failure_threshold="1000000000")), ["failure_threshold", "100"]),
    "zero threshold": (config(check(success_threshold="0")), ["success_threshold"]),
    # -- schedules
    "rate of zero": (
        HEAD.replace("rate(15 minutes)", "rate(0 minutes)") + GOOD_CHECK,
        ["schedule", "at least 1"],
    ),
    "rate singular mismatch": (
        HEAD.replace("rate(15 minutes)", "rate(1 minutes)") + GOOD_CHECK,
        ["schedule", "rate(1 minute)"],
    ),
    "rate of seconds": (
        HEAD.replace("rate(15 minutes)", "rate(30 seconds)") + GOOD_CHECK,
        ["schedule"],
    ),
    "cron(bad)": (
        HEAD.replace("rate(15 minutes)", "cron(bad)") + GOOD_CHECK,
        ["schedule", "6 fields"],
    ),
    "cron()": (HEAD.replace("rate(15 minutes)", "cron()") + GOOD_CHECK, ["schedule", "6 fields"]),
    "cron five fields": (
        HEAD.replace("rate(15 minutes)", '"cron(0 * * * ?)"') + GOOD_CHECK,
        ["schedule", "got 5"],
    ),
    "cron out of range": (
        HEAD.replace("rate(15 minutes)", '"cron(75 * * * ? *)"') + GOOD_CHECK,
        ["minutes 75"],
    ),
    "cron without ?": (
        HEAD.replace("rate(15 minutes)", '"cron(0 12 * * * *)"') + GOOD_CHECK,
        ["must be ?"],
    ),
    # -- URLs
    "port out of range": (config(check(url='"http://127.0.0.1:99999/"')), ["url", "invalid port"]),
    "space in the host": (config(check(url='"http://exa mple.com/"')), ["url", "spaces"]),
    "not http": (config(check(url='"ftp://example.com/"')), ["url", "http://"]),
    "no host": (config(check(url='"http:///health"')), ["url"]),
    "vendor base_url": (
        config(
            '  - {id: ai, tier: quick, type: openai, token: "${env:K}", '
            'base_url: "http://127.0.0.1:0/"}\n'
        ),
        ["base_url", "invalid port"],
    ),
    # -- secret references
    "empty secret reference": (
        config(check(headers='{X-Key: "${secret:}"}')),
        ["headers", "empty reference"],
    ),
    "unknown reference kind": (
        config(check(headers='{X-Key: "${nope:x}"}')),
        ["unknown reference"],
    ),
    "unterminated reference": (config(check(headers='{X-Key: "${env:TOKEN"}')), ["unterminated"]),
    # -- notifications
    "webhook that is not a url": (
        config(tail="notifications:\n  slack: {webhook_url: not-a-url}\n"),
        ["webhook_url", "http"],
    ),
    "unknown provider": (
        config(tail="notifications:\n  teams: {webhook_url: https://example.com/x}\n"),
        ["unknown notification provider 'teams'"],
    ),
    "unknown provider key": (
        config(tail="notifications:\n  slack: {webhook_url: https://example.com/x, chanel: ops}\n"),
        ["chanel"],
    ),
    # -- conditions and maintenance
    "condition with an unknown unit": (
        config(check(conditions='["[CERTIFICATE_EXPIRATION] > 25d"]')),
        ["conditions", "unknown duration unit", "25d"],
    ),
    "condition without spaces": (config(check(conditions='["[STATUS]==200"]')), ["conditions"]),
    "weekday monkey": (
        config(tail="maintenance:\n  - {every: [monkey], at: '03:00', duration: 30m}\n"),
        ["unknown weekday 'monkey'"],
    ),
    "maintenance of an unknown check": (
        config(
            tail="maintenance:\n  - {checks: [nope], start: 2026-12-01T00:00:00Z, end: 2026-12-01T01:00:00Z}\n"
        ),
        ["maintenance[0].checks", "unknown check 'nope'"],
    ),
    # -- scale: shards and regions
    "shard size zero": (
        config(head=HEAD.replace("rate(15 minutes)}", "rate(15 minutes), shard_size: 0}")),
        ["line 3", "shard_size", "greater than or equal to 1"],
    ),
    "shard size not a number": (
        config(head=HEAD.replace("rate(15 minutes)}", "rate(15 minutes), shard_size: many}")),
        ["shard_size", "integer"],
    ),
    "quorum above the regions": (
        config(tail="regions: [us-east-1, eu-west-1]\nquorum: 3\n"),
        ["quorum", "more than the 2 regions"],
    ),
    "quorum without regions": (config(tail="quorum: 2\n"), ["quorum", "needs `regions`"]),
    "quorum zero": (
        config(tail="regions: [us-east-1]\nquorum: 0\n"),
        ["quorum", "greater than or equal to 1"],
    ),
    "duplicate region": (
        config(tail="regions: [us-east-1, us-east-1]\n"),
        ["regions[1].name", "duplicate region 'us-east-1'"],
    ),
    "region endpoint that is not a url": (
        config(tail="regions: [us-east-1, {name: eu-west-1, endpoint_url: 'eu.example'}]\n"),
        ["line 6", "regions[1].endpoint_url", "http"],
    ),
    "region with an unknown key": (
        config(tail="regions: [us-east-1, {name: eu-west-1, endpoint: 'http://x'}]\n"),
        ["regions[1].endpoint", "unknown key"],
    ),
    "region name with capitals": (
        config(tail="regions: [US-EAST-1]\n"),
        ["regions[0].name", "must match"],
    ),
}


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_broken_config_is_refused_clearly(name: str, tmp_path: Path) -> None:
    text, expected = CASES[name]
    path = tmp_path / "checks.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    data = tmp_path / "data"
    proc = healthwatch(path, data, "run", timeout=HANG_GUARD_S, preexec_fn=_cap_memory)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert str(path) in proc.stderr  # names the file
    for part in expected:
        assert part in proc.stderr, (part, proc.stderr)
    assert not data.exists()  # nothing written
