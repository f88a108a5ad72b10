"""Gatus-compatible health conditions: parsed once at config load, evaluated on every probe.

`parsed(text)` gives a `Condition` (cached: each distinct text is parsed once);
`evaluate_all(conditions, EvalContext(...))` gives one `ConditionResult` each, whose
`detail` shows the resolved values when it failed (`[STATUS] (500) == 200`).
"""

from healthwatch.conditions.language import (
    Condition,
    ConditionResult,
    EvalContext,
    evaluate_all,
    parse_condition,
    parsed,
)

__all__ = [
    "Condition",
    "ConditionResult",
    "EvalContext",
    "evaluate_all",
    "parse_condition",
    "parsed",
]
