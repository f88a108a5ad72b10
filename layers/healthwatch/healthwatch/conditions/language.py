"""The condition language itself: the parser and the evaluator of one condition."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from healthwatch.errors import ConditionError

# Checked in this order, as Gatus does: the first operator present decides the split.
_OPERATORS: Final = ("==", "!=", "<=", ">=", ">", "<")
_PLACEHOLDERS: Final = frozenset(
    {
        "STATUS",
        "RESPONSE_TIME",
        "BODY",
        "IP",
        "CONNECTED",
        "CERTIFICATE_EXPIRATION",
        "DOMAIN_EXPIRATION",
        "DNS_RCODE",
    }
)
_DURATION_PLACEHOLDERS: Final = frozenset({"CERTIFICATE_EXPIRATION", "DOMAIN_EXPIRATION"})
_FUNCTIONS: Final = ("len", "has", "pat", "any")
# A resolved value longer than this is cut in the failure detail (the verdict uses it whole).
MAX_DETAIL_VALUE: Final = 100
_INVALID: Final = "INVALID"

# Patterns are plain strings: `re` compiles each on first use and caches it, so importing
# this module compiles nothing.
_FUNCTION_CALL = r"([A-Za-z_]\w*)\("
_BRACKET_NAME = r"\[([A-Za-z_]\w*)\]"
_DECIMAL = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"

_NS_PER_UNIT: Final = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NS: Final = 2**63 - 1
# A number followed by letters: meant as a duration, so its unit must be one Go knows.
_DURATION_LIKE: Final = re.compile(
    r"^[+-]?(\d+(\.\d*)?|\.\d+)([a-zA-Z\u00b5\u03bc]+(\d+(\.\d*)?)?)+$"
)  # Go's time.Duration is an int64 of nanoseconds
_ORDER: Final = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class ConditionResult:
    """One condition's verdict; `detail` shows the resolved values when it failed."""

    condition: str
    success: bool
    detail: str


class _Unparsed:
    """Marks an EvalContext whose body has not been parsed as JSON yet."""


_UNPARSED: Final = _Unparsed()


@dataclass
class EvalContext:
    """What a probe observed; None means the probe type cannot provide it.

    A None value evaluates as Gatus's empty value for that placeholder: `0` for
    [STATUS], [RESPONSE_TIME] and the expirations, `false` for [CONNECTED], an empty
    string for [IP], [DNS_RCODE] and [BODY].
    """

    status: int | None = None
    response_time_ms: float | None = None
    body: str | bytes | None = None
    ip: str | None = None
    connected: bool | None = None
    certificate_expiration_ms: float | None = None
    domain_expiration_ms: float | None = None
    dns_rcode: str | None = None
    # The body is parsed at most once per context, and only if a [BODY] path asks for it.
    _json_of: object = field(default=_UNPARSED, init=False, repr=False, compare=False)
    _json: tuple[bool, Any] = field(default=(False, None), init=False, repr=False, compare=False)


# --------------------------------------------------------------------------- operands


# Plain slotted classes rather than dataclasses: they cost nothing at import (cold start).
class _Literal:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Placeholder:
    __slots__ = ("name", "path", "text")

    def __init__(self, text: str, name: str, path: tuple[str | int, ...] | None = None) -> None:
        self.text = text
        self.name = name  # upper case, one of _PLACEHOLDERS
        self.path = path  # only [BODY] has one: `[BODY].a[0]` -> ("a", 0)


class _Function:
    __slots__ = ("arg", "name", "text")

    def __init__(self, text: str, name: str, arg: _Placeholder) -> None:
        self.text = text
        self.name = name  # "len" or "has"
        self.arg = arg


class _Pattern:
    __slots__ = ("regex", "text")

    def __init__(self, text: str, regex: re.Pattern[str]) -> None:
        self.text = text
        self.regex = regex


class _AnyOf:
    __slots__ = ("options", "text")

    def __init__(self, text: str, options: tuple[str, ...]) -> None:
        self.text = text
        self.options = options


_Value = _Literal | _Placeholder | _Function
_Operand = _Value | _Pattern | _AnyOf


class Condition:
    """A parsed condition, e.g. `[STATUS] == 200`; see parse_condition."""

    __slots__ = ("_left", "_right", "operator", "placeholders", "raw")

    raw: str
    operator: str
    placeholders: frozenset[str]  # e.g. {"BODY"}: lets a probe skip work no condition needs

    def __init__(self, raw: str, op: str, left: _Operand, right: _Operand) -> None:
        self.raw = raw
        self.operator = op
        self._left = left
        self._right = right
        self.placeholders = frozenset(_placeholder_names(left) | _placeholder_names(right))

    def __repr__(self) -> str:
        return f"Condition({self.raw!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def evaluate(self, ctx: EvalContext) -> ConditionResult:
        """Judge what a probe observed; never raises for anything the probe returned."""
        if self.operator in ("==", "!="):
            success, left, right = self._equality(ctx)
        else:
            success, left, right = self._ordering(ctx)
        if success:
            return ConditionResult(self.raw, True, self.raw)
        return ConditionResult(self.raw, False, f"{left} {self.operator} {right}")

    def _equality(self, ctx: EvalContext) -> tuple[bool, str, str]:
        left, right = self._left, self._right
        if isinstance(left, _Pattern | _AnyOf):  # pat()/any() may sit on either side
            assert not isinstance(right, _Pattern | _AnyOf)  # parse_condition allows one
            value = _resolve(right, ctx)
            equal = value is not None and _matches(left, value)
            return _negate(self.operator, equal), left.text, _show(right, value)
        lvalue = _resolve(left, ctx)
        if isinstance(right, _Pattern | _AnyOf):
            equal = lvalue is not None and _matches(right, lvalue)
            return _negate(self.operator, equal), _show(left, lvalue), right.text
        rvalue = _resolve(right, ctx)
        # A JSON path that did not resolve equals nothing, not even another such path.
        equal = lvalue is not None and rvalue is not None and _equal(lvalue, rvalue)
        return _negate(self.operator, equal), _show(left, lvalue), _show(right, rvalue)

    def _ordering(self, ctx: EvalContext) -> tuple[bool, str, str]:
        left, right = self._left, self._right
        assert not isinstance(left, _Pattern | _AnyOf)  # parse_condition rejects them here
        assert not isinstance(right, _Pattern | _AnyOf)
        lvalue, rvalue = _resolve(left, ctx), _resolve(right, ctx)
        shown = _show_number(left, lvalue), _show_number(right, rvalue)
        if lvalue is None or rvalue is None:  # an unresolved JSON path fails any ordering
            return False, *shown
        return _ORDER[self.operator](_ordinal(lvalue), _ordinal(rvalue)), *shown


@lru_cache(maxsize=4096)
def parsed(text: str) -> Condition:
    """`parse_condition`, once per distinct text: a condition is immutable once parsed, so
    config validation, the checks and the probes' default conditions share one object."""
    return parse_condition(text)


def parse_condition(text: str) -> Condition:
    """Parse a Gatus condition such as `[BODY].status == ok`; ConditionError says what is wrong."""
    if not isinstance(text, str):
        raise ConditionError(f"invalid condition {text!r}: expected a string")
    stripped = text.strip()
    if not stripped:
        raise ConditionError(f"invalid condition {text!r}: the condition is empty")
    op, left_text, right_text = _split(stripped, text)
    left = _parse_operand(left_text, text, "left")
    right = _parse_operand(right_text, text, "right")
    special = [o for o in (left, right) if isinstance(o, _Pattern | _AnyOf)]
    if special and op not in ("==", "!="):
        name = special[0].text.split("(", 1)[0]
        raise _error(text, f"{name}() works only with == and !=, not {op}")
    if len(special) == 2:
        raise _error(text, "pat() and any() compare with a value; only one side may use them")
    if op in _ORDER:
        for operand in (left, right):
            value = operand.text if isinstance(operand, _Literal) else ""
            if _DURATION_LIKE.match(value) and _duration_ms(value) is None:
                raise _error(
                    text,
                    f"unknown duration unit in {value!r}: use Go's (ns, us, µs, ms, s, m, h), "
                    "e.g. 48h for two days",
                )
    return Condition(text, op, left, right)


def evaluate_all(conditions: Sequence[Condition], ctx: EvalContext) -> list[ConditionResult]:
    """Every condition's result, in order; all are evaluated so a report shows each failure."""
    return [condition.evaluate(ctx) for condition in conditions]


# --------------------------------------------------------------------------- parsing


def _error(condition: str, problem: str) -> ConditionError:
    return ConditionError(f"invalid condition {condition!r}: {problem}")


def _split(text: str, raw: str) -> tuple[str, str, str]:
    """(operator, left, right); operators inside function parentheses do not count."""
    found: dict[str, list[int]] = {}
    depth = 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == " " and depth == 0:
            for op in _OPERATORS:
                if text.startswith(op + " ", i + 1):
                    found.setdefault(op, []).append(i)
                    break
    for op in _OPERATORS:
        positions = found.get(op)
        if positions:
            if len(positions) > 1:
                raise _error(raw, f"operator {op} appears more than once")
            at = positions[0]
            return op, text[:at], text[at + len(op) + 2 :]
    # Nothing at the top level: an unclosed parenthesis hides it, or there is none at all.
    for op in _OPERATORS:
        at = text.find(f" {op} ")
        if at >= 0:
            return op, text[:at], text[at + len(op) + 2 :]
    for op in _OPERATORS:
        if text.endswith(f" {op}"):
            raise _error(raw, f"nothing on the right side of {op}")
        if text.startswith(f"{op} "):
            raise _error(raw, f"nothing on the left side of {op}")
    bare = [op for op in _OPERATORS if op in text]
    if bare:
        raise _error(raw, f"put a space on each side of the operator {bare[0]}")
    raise _error(
        raw,
        "expected two values and an operator (== != < <= > >=) with a space on each side, "
        "e.g. [STATUS] == 200",
    )


def _parse_operand(text: str, raw: str, side: str) -> _Operand:
    text = text.strip()
    if not text:
        raise _error(raw, f"the {side} side of the operator is empty")
    call = re.match(_FUNCTION_CALL, text)
    if call:
        name = call.group(1)
        if not text.endswith(")"):
            raise _error(raw, f"unbalanced parentheses in {text!r}")
        arg = text[call.end() : -1]
        if name in ("len", "has"):
            inner = arg.strip()
            if "(" in inner or ")" in inner:
                raise _error(raw, f"unbalanced parentheses in {text!r}")
            placeholder = _parse_placeholder(inner, raw) if inner.startswith("[") else None
            if placeholder is None:
                raise _error(raw, f"{name}() takes a placeholder such as [BODY].items, got {arg!r}")
            return _Function(text, name, placeholder)
        if name == "pat":
            return _Pattern(text, _compile_pattern(arg, raw))
        if name == "any":
            return _AnyOf(text, tuple(option.strip() for option in arg.split(",")))
        raise _error(raw, f"unknown function {name}(); use one of {', '.join(_FUNCTIONS)}")
    if text.startswith("["):
        placeholder = _parse_placeholder(text, raw)
        if placeholder is not None:
            return placeholder
    return _Literal(text)


def _parse_placeholder(text: str, raw: str) -> _Placeholder | None:
    """The placeholder `text` names; None if it is a literal such as `[a b]`."""
    match = re.match(_BRACKET_NAME, text)
    if match is None:
        if "]" not in text:
            raise _error(raw, f"unbalanced brackets in {text!r}")
        return None
    name = match.group(1).upper()
    if name not in _PLACEHOLDERS:
        word = match.group(1)
        if word.isupper() or "_" in word:  # looks like a placeholder, so it is a typo
            known = ", ".join(f"[{p}]" for p in sorted(_PLACEHOLDERS))
            raise _error(raw, f"unknown placeholder [{word}]; known placeholders: {known}")
        return None
    rest = text[match.end() :]
    if not rest:
        return _Placeholder(text, name)
    if name != "BODY":
        raise _error(raw, f"unexpected {rest!r} after [{name}]; only [BODY] takes a path")
    return _Placeholder(text, name, _parse_path(rest, raw))


def _parse_path(rest: str, raw: str) -> tuple[str | int, ...]:
    """`.a.b[0].c` -> ("a", "b", 0, "c")."""
    path: list[str | int] = []
    i, n = 0, len(rest)
    while i < n:
        char = rest[i]
        if char == ".":
            i += 1
            if i < n and rest[i] == "[":  # `[BODY].[0]` is `[BODY][0]`, as in Gatus
                continue
            end = i
            while end < n and rest[end] not in ".[]":
                end += 1
            key = rest[i:end]
            if not key:
                raise _error(raw, f"empty key in the path {rest!r}")
            if not _balanced(key):
                raise _error(raw, f"unbalanced parentheses in the path {rest!r}")
            path.append(key)
            i = end
        elif char == "[":
            end = rest.find("]", i)
            if end < 0:
                raise _error(raw, f"unbalanced brackets in the path {rest!r}")
            index = rest[i + 1 : end]
            if not (index.isascii() and index.isdigit()):
                raise _error(raw, f"array index [{index}] must be a non-negative integer")
            path.append(int(index))
            i = end + 1
        elif char == "]":
            raise _error(raw, f"unbalanced brackets in the path {rest!r}")
        else:
            raise _error(raw, f"unexpected {rest[i:]!r} in the path; use .key or [index]")
    return tuple(path)


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0


def _compile_pattern(pattern: str, raw: str) -> re.Pattern[str]:
    """Gatus's pat(): Go filepath.Match syntax (`*`, `?`, `[a-z]`, `[^x]`, `\\`-escapes).

    Unlike filepath.Match, `*` also crosses `/` (Gatus strips the separator first to the
    same end). Built with atomic groups so a long body cannot make matching backtrack.
    """
    segments: list[list[str]] = [[]]  # one-character regexes, split at each run of `*`
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            if segments[-1] or len(segments) == 1:
                segments.append([])
            i += 1
        elif char == "?":
            segments[-1].append(".")
            i += 1
        elif char == "[":
            piece, i = _pattern_class(pattern, i + 1, raw)
            segments[-1].append(piece)
        else:
            if char == "\\":
                i += 1
                if i == n:
                    raise _error(raw, f"pattern {pattern!r} ends with an escape character")
                char = pattern[i]
            segments[-1].append(re.escape(char))
            i += 1
    if len(segments) == 1:
        regex = "".join(segments[0])
    else:
        middle = "".join(f"(?>.*?{''.join(s)})" for s in segments[1:-1] if s)
        regex = "".join(segments[0]) + middle + ".*" + "".join(segments[-1])
    return re.compile(regex, re.DOTALL)


def _pattern_class(pattern: str, i: int, raw: str) -> tuple[str, int]:
    """The regex for a `[...]` class whose body starts at i, and the index after it."""
    negated = i < len(pattern) and pattern[i] == "^"
    i += negated
    ranges: list[str] = []
    count = 0
    while True:
        if i < len(pattern) and pattern[i] == "]" and count:
            i += 1
            break
        low, i = _class_char(pattern, i, raw)
        high = low
        if i < len(pattern) and pattern[i] == "-":
            high, i = _class_char(pattern, i + 1, raw)
        count += 1
        if low <= high:  # Go accepts a reversed range that matches nothing
            ranges.append(re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}")
    if not ranges:
        return ("." if negated else "(?!)"), i
    return f"[{'^' if negated else ''}{''.join(ranges)}]", i


def _class_char(pattern: str, i: int, raw: str) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise _error(raw, f"malformed character class in the pattern {pattern!r}")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise _error(raw, f"malformed character class in the pattern {pattern!r}")
    return pattern[i], i + 1


def _placeholder_names(operand: _Operand) -> set[str]:
    if isinstance(operand, _Placeholder):
        return {operand.name}
    if isinstance(operand, _Function):
        return {operand.arg.name}
    return set()


# --------------------------------------------------------------------------- evaluation


def _negate(operator: str, equal: bool) -> bool:
    return equal if operator == "==" else not equal


def _resolve(operand: _Value, ctx: EvalContext) -> str | None:
    """The operand's value as Gatus sees it (a string); None for an unresolved JSON path."""
    try:
        return _resolve_value(operand, ctx)
    except RecursionError:  # a body nested too deep to walk: treat it as unresolved
        return None


def _resolve_value(operand: _Value, ctx: EvalContext) -> str | None:
    if isinstance(operand, _Literal):
        return operand.text
    if isinstance(operand, _Placeholder):
        if operand.path is None:
            return _simple_value(operand.name, ctx)
        found, value = _json_at(ctx, operand.path)
        return _stringify(value) if found else None
    placeholder = operand.arg
    if operand.name == "has":
        if placeholder.path is None:
            return _bool(_simple_value(placeholder.name, ctx) != "")
        return _bool(_json_at(ctx, placeholder.path)[0])
    if placeholder.path is None:
        if placeholder.name == "BODY":
            found, value = _body_json(ctx)
            if found and isinstance(value, list):
                return str(len(value))
        return str(len(_simple_value(placeholder.name, ctx)))
    found, value = _json_at(ctx, placeholder.path)
    return str(_length(value)) if found else None


def _simple_value(name: str, ctx: EvalContext) -> str:
    if name == "STATUS":
        return str(ctx.status or 0)
    if name == "RESPONSE_TIME":
        return _millis(ctx.response_time_ms)
    if name == "BODY":
        return _body_text(ctx).strip()
    if name == "IP":
        return ctx.ip or ""
    if name == "CONNECTED":
        return _bool(bool(ctx.connected))
    if name == "CERTIFICATE_EXPIRATION":
        return _millis(ctx.certificate_expiration_ms)
    if name == "DOMAIN_EXPIRATION":
        return _millis(ctx.domain_expiration_ms)
    return ctx.dns_rcode or ""  # DNS_RCODE


def _millis(value: float | None) -> str:
    # Whole milliseconds, truncated, as Go's Duration.Milliseconds() gives them to Gatus.
    return str(int(value or 0))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _body_text(ctx: EvalContext) -> str:
    body = ctx.body
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    return body


def _body_json(ctx: EvalContext) -> tuple[bool, Any]:
    if ctx._json_of is not ctx.body:  # body never parsed, or replaced since
        try:
            parsed: tuple[bool, Any] = (True, json.loads(_body_text(ctx).lstrip("\ufeff")))
        except (ValueError, RecursionError):
            parsed = (False, None)
        ctx._json, ctx._json_of = parsed, ctx.body
    return ctx._json


def _json_at(ctx: EvalContext, path: tuple[str | int, ...]) -> tuple[bool, Any]:
    found, value = _body_json(ctx)
    if not found:
        return False, None
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return False, None
        elif not isinstance(value, dict) or step not in value:
            return False, None
        value = value[step]
    # Gatus treats a JSON null like a missing key: has() is false, comparisons fail.
    return (False, None) if value is None else (True, value)


def _stringify(value: Any) -> str:
    """A JSON value as text: strings raw, objects minified, arrays as Gatus prints them."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _minified(value)
    if isinstance(value, list):
        return _go_print(value)
    return _scalar(value)


def _length(value: Any) -> int:
    # Gatus: an array's length is its item count; anything else is measured as text, so an
    # object counts the characters of its minified JSON.
    return len(value) if isinstance(value, list) else len(_stringify(value))


def _scalar(value: Any) -> str:
    if value is True or value is False:
        return _bool(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def _go_print(value: Any) -> str:
    """Go's %v of a decoded JSON value, which is what Gatus compares arrays against."""
    if isinstance(value, list):
        return "[" + " ".join(_go_print(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{k}:{_go_print(value[k])}" for k in sorted(value))
        return "map[" + " ".join(items) + "]"
    if value is None:
        return "<nil>"
    return value if isinstance(value, str) else _scalar(value)


def _minified(value: Any) -> str:
    """Go's json.Marshal output: sorted keys, no spaces, HTML characters escaped."""
    if isinstance(value, dict):
        items = (f"{_json_string(k)}:{_minified(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_minified(v) for v in value) + "]"
    if isinstance(value, str):
        return _json_string(value)
    return "null" if value is None else _scalar(value)


def _json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        encoded = encoded.replace(char, escape)
    return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _integer(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 0, 64) syntax: 42, -7, 0x1F, 0o17, 0b101, 1_000."""
    if not text or not text.isascii() or text != text.strip():
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def _number(text: str) -> int | float | None:
    integer = _integer(text)
    if integer is not None:
        return integer
    if text.isascii() and re.fullmatch(_DECIMAL, text):
        return float(text)
    return None


def _equal(a: str, b: str) -> bool:
    # As Gatus: integers compare by value (0x1 == 1), everything else as exact text, so
    # version strings such as 1.10 and 1.1 stay different.
    x, y = _integer(a), _integer(b)
    if x is not None and y is not None:
        return x == y
    return a == b


def _matches(operand: _Pattern | _AnyOf, value: str) -> bool:
    if isinstance(operand, _Pattern):
        return operand.regex.fullmatch(value) is not None
    return any(_equal(value, option) for option in operand.options)


def _ordinal(text: str) -> int | float:
    """The number Gatus orders by: a Go duration in ms, else the number, else 0."""
    millis = _duration_ms(text)
    if millis is not None:
        return millis
    number = _number(text)
    return 0 if number is None else number


def _duration_ms(text: str) -> int | None:
    """Go's time.ParseDuration (`1h30m`, `1.5s`, `-500ms`) in whole milliseconds."""
    sign, body = 1, text
    if body[:1] in ("+", "-"):
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    if body == "0":
        return 0
    if not body:
        return None
    total, i, n = 0, 0, len(body)
    while i < n:
        end = _digits_end(body, i)
        whole, i = body[i:end], end
        fraction = ""
        if i < n and body[i] == ".":
            end = _digits_end(body, i + 1)
            fraction, i = body[i + 1 : end], end
        if not whole and not fraction:
            return None
        end = i
        while end < n and body[end] != "." and not "0" <= body[end] <= "9":
            end += 1
        unit = _NS_PER_UNIT.get(body[i:end])
        if unit is None:
            return None
        i = end
        total += int(whole or 0) * unit
        if fraction:
            total += int(fraction) * unit // 10 ** len(fraction)
        if total > _MAX_NS:
            return None
    return sign * (total // 1_000_000)


def _digits_end(text: str, i: int) -> int:
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    return i


def _format_duration(millis: int) -> str:
    """`336h`, `1h30m`, `1h0m15s`, `45s`: whole seconds, trailing zero units dropped."""
    seconds = abs(millis) // 1000
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    while parts[-1][0] == 0:
        parts.pop()
    while parts[0][0] == 0:
        parts.pop(0)
    return ("-" if millis < 0 else "") + "".join(f"{value}{unit}" for value, unit in parts)


def _cut(value: str) -> str:
    if len(value) <= MAX_DETAIL_VALUE:
        return value
    return value[:MAX_DETAIL_VALUE] + "...(truncated)"


def _show(operand: _Operand, value: str | None) -> str:
    """The operand for a failure detail: `[STATUS] (500)`, literals as written."""
    if isinstance(operand, _Literal | _Pattern | _AnyOf):
        return operand.text
    shown = _INVALID if value is None else _cut(value)
    return operand.text if shown == operand.text else f"{operand.text} ({shown})"


def _show_number(operand: _Value, value: str | None) -> str:
    """As _show, with the number the ordering used: `potato (0)`, `[DOMAIN_EXPIRATION] (24h)`."""
    if isinstance(operand, _Literal):
        if _duration_ms(operand.text) is not None or _number(operand.text) is not None:
            return operand.text
        return f"{operand.text} (0)"
    if value is None:
        return f"{operand.text} ({_INVALID})"
    number = _ordinal(value)
    if isinstance(operand, _Placeholder) and operand.name in _DURATION_PLACEHOLDERS:
        shown = _format_duration(int(number))
    else:
        shown = _scalar(number)
    return f"{operand.text} ({shown})"
