"""The functions' environment, read without pydantic at every cold start."""

from __future__ import annotations

import pytest
from healthwatch.errors import ConfigError
from healthwatch.runtime.settings import AwsSettings, settings


def test_unset_and_empty_variables_take_their_defaults():
    env = settings({"HISTORY_DAYS": "  ", "CHECKS_CONFIG": ""})
    assert env == AwsSettings()
    assert (env.checks_config, env.history_days, env.tiers, env.tracing) == (
        "checks.yaml",
        30,
        (),
        False,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("1", True), ("On", True), ("false", False), ("0", False)],
)
def test_a_flag_reads_the_usual_spellings(text, expected):
    assert settings({"HEALTHWATCH_TRACING": text}).tracing is expected


def test_values_are_converted():
    env = settings({"HISTORY_DAYS": " 90 ", "HEALTHWATCH_TIERS": "quick,, comprehensive "})
    assert env.history_days == 90 and env.tiers == ("quick", "comprehensive")


def test_every_bad_variable_is_named_with_what_it_should_be_and_what_it_was():
    with pytest.raises(ConfigError) as failure:
        settings(
            {
                "HISTORY_DAYS": "3651",
                "HEALTHWATCH_TRACING": "maybe",
                "GLUE_DATABASE": "Bad-Name",
                "HISTORY_TABLE": "ok-table",
            }
        )
    problems = failure.value.errors
    assert problems == [
        "HISTORY_DAYS: must be at most 3650 (got '3651')",
        "HEALTHWATCH_TRACING: expected a boolean (true or false) (got 'maybe')",
        "GLUE_DATABASE: should match the pattern '^[a-z0-9_]{1,255}$' (got 'Bad-Name')",
    ]
    with pytest.raises(ConfigError, match="HISTORY_DAYS: expected a whole number"):
        settings({"HISTORY_DAYS": "ten"})
