"""Config validation: every error names its field, its check and its line."""

from __future__ import annotations

import pytest
from healthwatch.cli import main
from healthwatch.errors import ConfigError
from healthwatch.runtime.config_source import load_config, parse_config

GOOD = """\
version: 1
defaults:
  timeout: 2s
tiers:
  quick: {schedule: rate(15 minutes)}
  slow: {schedule: rate(6 hours), deadline: 5m}
checks:
  - id: agent-service
    name: Agent
    tier: quick
    url: https://example.test/health
    conditions: ["[STATUS] == 200", "[BODY].status == ok"]
    warnings: ["[RESPONSE_TIME] < 500"]
  - id: other
    tier: slow
    type: http
    method: post
    headers: {Authorization: "Bearer ${env:TOKEN}"}
    body: {ping: true}
    url: http://127.0.0.1:8080/x
    failure_threshold: 1
    retry_interval: 0
"""


def test_good_config_fills_defaults_and_types():
    cfg = parse_config(GOOD)
    a, b = cfg.checks
    assert a.setting("timeout") == 2.0 and a.setting("failure_threshold") == 3
    assert a.setting("reminder_interval") == 6 * 3600 and a.type == "http"
    assert b.setting("failure_threshold") == 1 and b.setting("retry_interval") == 0
    assert b.options.method == "POST" and b.options.body == {"ping": True}
    assert b.name == "other"  # the id when no name is given
    assert cfg.tiers["slow"].effective_deadline == 300
    assert [c.id for c in cfg.checks_for("quick")] == ["agent-service"]


def _mutate(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


CASES = [
    (
        "typo'd key",
        _mutate("    name: Agent\n", "    name: Agent\n    failure_treshold: 3\n"),
        [
            "line 10",
            "checks[0]",
            "'agent-service'",
            "failure_treshold",
            "did you mean 'failure_threshold'",
        ],
    ),
    (
        "duplicate id",
        _mutate("  - id: other", "  - id: agent-service"),
        ["duplicate check id 'agent-service'"],
    ),
    (
        "invalid condition",
        _mutate('"[STATUS] == 200"', '"[STATUS]==200"'),
        ["line 12", "checks[0].conditions", "[STATUS]==200"],
    ),
    (
        "unknown tier",
        _mutate("    tier: slow", "    tier: hourly"),
        ["checks[1].tier", "unknown tier 'hourly'", "quick, slow"],
    ),
    (
        "bad duration",
        _mutate("timeout: 2s", "timeout: 2 parsecs"),
        ["line 3", "defaults.timeout", "invalid duration"],
    ),
    (
        "unknown type",
        _mutate("    type: http", "    type: gopher"),
        ["checks[1]", "unknown check type 'gopher'", "http"],
    ),
    (
        "bad url",
        _mutate("url: http://127.0.0.1:8080/x", "url: ftp://x"),
        ["checks[1]", "url", "http:// or https://"],
    ),
    ("bad id", _mutate("  - id: other", "  - id: Other_Check"), ["checks[1].id", "pattern"]),
    ("missing tiers", GOOD.replace("tiers:", "tears:"), ["tiers", "Field required"]),
    (
        "threshold below 1",
        _mutate("failure_threshold: 1", "failure_threshold: 0"),
        ["checks[1].failure_threshold", "greater than or equal to 1"],
    ),
    ("unknown top-level key", GOOD + "alerting: {}\n", ["alerting", "unknown key"]),
    ("bad schedule", _mutate("rate(6 hours)", "every 6 hours"), ["tiers.slow.schedule", "rate("]),
    (
        "maintenance on unknown check",
        GOOD
        + "maintenance:\n  - {checks: [nope], start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}\n",
        ["maintenance[0].checks", "unknown check 'nope'"],
    ),
    (
        "maintenance bad zone",
        GOOD
        + "maintenance:\n  - {every: [mon], at: '02:00', duration: 1h, timezone: Mars/Olympus}\n",
        ["maintenance[0]", "unknown time zone"],
    ),
    ("not yaml", "checks: [\n", ["not valid YAML"]),
]


@pytest.mark.parametrize(("name", "text", "needles"), CASES, ids=[c[0] for c in CASES])
def test_errors_name_the_field(name, text, needles):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "checks.yaml")
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in:\n{message}"


@pytest.mark.parametrize(("name", "text", "needles"), CASES[:6], ids=[c[0] for c in CASES[:6]])
def test_validate_exits_2_with_the_message(tmp_path, capsys, name, text, needles):
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    assert main(["validate", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert needles[0] in err


def test_validate_exits_0_on_the_shipped_config(capsys):
    assert main(["validate", "--config", "checks.yaml"]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_says_how_a_tier_is_split_and_who_decides(tmp_path, capsys):
    path = tmp_path / "checks.yaml"
    checks = "".join(
        f'  - {{id: c{i}, tier: quick, url: "http://127.0.0.1:9/"}}\n' for i in range(5)
    )
    path.write_text(
        "tiers: {quick: {schedule: rate(15 minutes), shard_size: 2}, daily: {schedule: rate(1 day)}}\n"
        "regions: [us-east-1, {name: eu-west-1}]\nquorum: 2\nchecks:\n" + checks
    )
    assert main(["validate", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "quick (5 checks in 3 shards), daily (0 checks)" in out
    assert "regions: us-east-1, eu-west-1 (quorum 2)" in out


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_shipped_config_covers_hotdash_services():
    cfg = load_config("checks.yaml")
    ids = {c.id for c in cfg.checks}
    assert {"agent-service", "llamaindex-mcp"} <= ids
    mcp = cfg.check("llamaindex-mcp")
    text = " ".join(mcp.conditions)
    assert "errorRate" in text and "len([BODY].tools)" in text and "[RESPONSE_TIME]" in text
    assert set(cfg.tiers) == {"quick", "integrations", "comprehensive"}


def test_a_big_config_written_out_in_full_is_not_an_alias_bomb():
    # 25,000 checks (a sharded tier) hold far more than 200,000 values, none from aliases
    from healthwatch.config.loader import MAX_EXPANDED_NODES
    from healthwatch.runtime.config_source import parse_config

    checks = "".join(
        f'  - {{id: c-{i}, tier: quick, url: "http://127.0.0.1:9/{i}", '
        f'conditions: ["[STATUS] == 200", "[BODY].status == ok"]}}\n'
        for i in range(25_000)
    )
    text = "tiers:\n  quick: {schedule: rate(15 minutes), shard_size: 2000}\nchecks:\n" + checks
    assert MAX_EXPANDED_NODES < 25_000 * 10
    assert len(parse_config(text).checks) == 25_000


def test_loading_pauses_the_collector_only_while_it_loads():
    import gc

    assert gc.isenabled()
    # A config that is refused, and one that loads: the collector runs again after both.
    with pytest.raises(ConfigError):
        parse_config("tiers: {quick: {schedule: 'rate(15 minutes)'}}\nchecks: [{id: a}]\n")
    assert gc.isenabled()
    parse_config(
        "tiers: {quick: {schedule: 'rate(15 minutes)'}}\n"
        "checks: [{id: a, tier: quick, url: 'http://127.0.0.1:9/'}]\n"
    )
    assert gc.isenabled()
    # A caller that had it off keeps it off.
    gc.disable()
    try:
        parse_config(
            "tiers: {quick: {schedule: 'rate(15 minutes)'}}\n"
            "checks: [{id: a, tier: quick, url: 'http://127.0.0.1:9/'}]\n"
        )
        assert not gc.isenabled()
    finally:
        gc.enable()
