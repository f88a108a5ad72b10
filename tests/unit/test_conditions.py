"""Gatus-compatible conditions: every placeholder, operator, function and error, as a table."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from healthwatch.conditions import (
    Condition,
    ConditionResult,
    EvalContext,
    evaluate_all,
    parse_condition,
)
from healthwatch.conditions import language as conditions
from healthwatch.errors import ConditionError

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
HTML = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8" /></head>'
    '<body><div id="user">jane.doe</div></body></html>'
)


def case(name: str, condition: str, success: bool, detail: str | None = None, **ctx: Any) -> Any:
    """One scenario; a passing condition's detail is the condition as written."""
    expected = condition if detail is None else detail
    return pytest.param(condition, ctx, success, expected, id=name)


SCENARIOS = [
    # [STATUS] with every operator
    case("status-eq", "[STATUS] == 200", True, status=200),
    case("status-eq-fail", "[STATUS] == 200", False, "[STATUS] (500) == 200", status=500),
    case("status-ne", "[STATUS] != 500", True, status=200),
    case("status-ne-fail", "[STATUS] != 500", False, "[STATUS] (500) != 500", status=500),
    case("status-lt", "[STATUS] < 300", True, status=201),
    case("status-lt-fail", "[STATUS] < 300", False, "[STATUS] (404) < 300", status=404),
    case("status-le-boundary", "[STATUS] <= 299", True, status=299),
    case("status-le-fail", "[STATUS] <= 299", False, "[STATUS] (300) <= 299", status=300),
    case("status-gt", "[STATUS] > 400", True, status=401),
    case("status-gt-boundary", "[STATUS] > 400", False, "[STATUS] (400) > 400", status=400),
    case("status-ge", "[STATUS] >= 200", True, status=200),
    case("status-ge-fail", "[STATUS] >= 200", False, "[STATUS] (199) >= 200", status=199),
    case("status-missing-is-zero", "[STATUS] == 200", False, "[STATUS] (0) == 200"),
    case("status-missing-eq-zero", "[STATUS] == 0", True),
    case("status-hex-literal", "[STATUS] == 0xC8", True, status=200),
    case("status-lowercase-placeholder", "[status] == 200", True, status=200),
    case("status-extra-spaces", "[STATUS]   ==   200", True, status=200),
    case(
        "status-extra-spaces-fail",
        "[STATUS]   ==   200",
        False,
        "[STATUS] (503) == 200",
        status=503,
    ),
    # [RESPONSE_TIME]: milliseconds, or a Go duration on the other side
    case("rt-ms", "[RESPONSE_TIME] < 500", True, response_time_ms=50),
    case(
        "rt-ms-fail",
        "[RESPONSE_TIME] < 500",
        False,
        "[RESPONSE_TIME] (750) < 500",
        response_time_ms=750,
    ),
    case("rt-1s-truncates-ms", "[RESPONSE_TIME] < 1s", True, response_time_ms=999.9),
    case(
        "rt-1s-fail",
        "[RESPONSE_TIME] < 1s",
        False,
        "[RESPONSE_TIME] (1500) < 1s",
        response_time_ms=1500.7,
    ),
    case("rt-500ms-le", "[RESPONSE_TIME] <= 500ms", True, response_time_ms=500),
    case("rt-1m", "[RESPONSE_TIME] < 1m", True, response_time_ms=59_999),
    case("rt-fraction-1.5s", "[RESPONSE_TIME] < 1.5s", True, response_time_ms=1499),
    case(
        "rt-fraction-1.5s-fail",
        "[RESPONSE_TIME] < 1.5s",
        False,
        "[RESPONSE_TIME] (1500) < 1.5s",
        response_time_ms=1500,
    ),
    case(
        "rt-2h30m",
        "[RESPONSE_TIME] < 2h30m",
        False,
        "[RESPONSE_TIME] (9000000) < 2h30m",
        response_time_ms=9_000_000,
    ),
    case("rt-microseconds", "[RESPONSE_TIME] > 1500us", True, response_time_ms=2),
    case("rt-duration-on-left", "1s > [RESPONSE_TIME]", True, response_time_ms=10),
    case("rt-missing-is-zero", "[RESPONSE_TIME] < 1", True),
    case(
        "rt-not-a-number-is-zero",
        "[RESPONSE_TIME] < potato",
        False,
        "[RESPONSE_TIME] (50) < potato (0)",
        response_time_ms=50,
    ),
    # [CERTIFICATE_EXPIRATION] / [DOMAIN_EXPIRATION]: shown as durations
    case(
        "cert-gt-48h", "[CERTIFICATE_EXPIRATION] > 48h", True, certificate_expiration_ms=60 * DAY_MS
    ),
    case(
        "cert-gt-48h-fail",
        "[CERTIFICATE_EXPIRATION] > 48h",
        False,
        "[CERTIFICATE_EXPIRATION] (24h) > 48h",
        certificate_expiration_ms=DAY_MS,
    ),
    case(
        "cert-gt-ms-fail",
        "[CERTIFICATE_EXPIRATION] > 2419200000",
        False,
        "[CERTIFICATE_EXPIRATION] (336h) > 2419200000",
        certificate_expiration_ms=14 * DAY_MS,
    ),
    case(
        "cert-hours-and-minutes",
        "[CERTIFICATE_EXPIRATION] > 2h",
        False,
        "[CERTIFICATE_EXPIRATION] (1h10m) > 2h",
        certificate_expiration_ms=70 * 60_000,
    ),
    case(
        "cert-expired-negative",
        "[CERTIFICATE_EXPIRATION] > 0",
        False,
        "[CERTIFICATE_EXPIRATION] (-48h) > 0",
        certificate_expiration_ms=-2 * DAY_MS,
    ),
    case("cert-missing-eq-zero", "[CERTIFICATE_EXPIRATION] == 0", True),
    case(
        "cert-missing-gt-fail",
        "[CERTIFICATE_EXPIRATION] > 48h",
        False,
        "[CERTIFICATE_EXPIRATION] (0s) > 48h",
    ),
    case("domain-gt-720h", "[DOMAIN_EXPIRATION] > 720h", True, domain_expiration_ms=4000 * HOUR_MS),
    case(
        "domain-gt-fail",
        "[DOMAIN_EXPIRATION] > 720h",
        False,
        "[DOMAIN_EXPIRATION] (1h0m15s) > 720h",
        domain_expiration_ms=HOUR_MS + 15_000,
    ),
    # [IP], [CONNECTED], [DNS_RCODE]
    case("ip", "[IP] == 127.0.0.1", True, ip="127.0.0.1"),
    case("ip-fail", "[IP] == 127.0.0.1", False, "[IP] (10.0.0.1) == 127.0.0.1", ip="10.0.0.1"),
    case("ip-missing-is-empty", "[IP] == 127.0.0.1", False, "[IP] () == 127.0.0.1"),
    case("connected", "[CONNECTED] == true", True, connected=True),
    case(
        "connected-fail",
        "[CONNECTED] == true",
        False,
        "[CONNECTED] (false) == true",
        connected=False,
    ),
    case("connected-missing-is-false", "[CONNECTED] == false", True),
    case("dns-rcode", "[DNS_RCODE] == NOERROR", True, dns_rcode="NOERROR"),
    case(
        "dns-rcode-fail",
        "[DNS_RCODE] == NOERROR",
        False,
        "[DNS_RCODE] (NXDOMAIN) == NOERROR",
        dns_rcode="NXDOMAIN",
    ),
    case("dns-rcode-missing-on-http", "[DNS_RCODE] == NOERROR", False, "[DNS_RCODE] () == NOERROR"),
    # [BODY] as a whole
    case("body-text", "[BODY] == test", True, body="test"),
    case("body-trimmed", "[BODY] == ok", True, body="  ok\n"),
    case("body-bytes", "[BODY] == ok", True, body=b"ok"),
    case("body-fail", "[BODY] == ok", False, "[BODY] (nope) == ok", body=b"nope"),
    case("body-numeric-gt", "[BODY] > 122", True, body="123"),
    case("body-numeric-gt-fail", "[BODY] > 123", False, "[BODY] (100) > 123", body="100"),
    case(
        "body-long-value-truncated",
        "[BODY] == short",
        False,
        "[BODY] (" + "x" * 100 + "...(truncated)) == short",
        body="x" * 300,
    ),
    # [BODY] JSON paths
    case("path", "[BODY].status == ok", True, body='{"status": "ok"}'),
    case(
        "path-fail",
        "[BODY].status == ok",
        False,
        "[BODY].status (down) == ok",
        body='{"status":"down"}',
    ),
    case(
        "path-case-sensitive-value",
        "[BODY].status == UP",
        False,
        "[BODY].status (up) == UP",
        body='{"status": "up"}',
    ),
    case(
        "path-nested", "[BODY].data.name == john", True, body='{"data": {"id": 1, "name": "john"}}'
    ),
    case("path-deep-mixed", "[BODY].a.b[0].c == x", True, body='{"a": {"b": [{"c": "x"}]}}'),
    case(
        "path-array-index", "[BODY].data[1].id == 2", True, body='{"data": [{"id": 1}, {"id": 2}]}'
    ),
    case("path-top-level-array", "[BODY][0].id == 1", True, body='[{"id": 1}, {"id": 2}]'),
    case("path-nested-arrays", "[BODY][1][0] == c", True, body='[["a", "b"], ["c"]]'),
    case("path-dot-before-index", "[BODY].[0] == a", True, body='["a"]'),
    case(
        "path-key-with-hyphen", "[BODY].x-request-id == abc", True, body='{"x-request-id": "abc"}'
    ),
    case("path-lowercase-body", "[body].Status == ok", True, body='{"Status": "ok"}'),
    case(
        "path-missing-key",
        "[BODY].data.name == john",
        False,
        "[BODY].data.name (INVALID) == john",
        body='{"data": {"id": 1}}',
    ),
    case(
        "path-index-out-of-range",
        "[BODY].items[2] == a",
        False,
        "[BODY].items[2] (INVALID) == a",
        body='{"items": ["a"]}',
    ),
    case(
        "path-through-a-string",
        "[BODY].name.first == j",
        False,
        "[BODY].name.first (INVALID) == j",
        body='{"name": "john"}',
    ),
    case(
        "path-index-on-object",
        "[BODY][0].name == test",
        False,
        "[BODY][0].name (INVALID) == test",
        body='{"statusCode": 500}',
    ),
    case(
        "path-null",
        "[BODY].data == OK",
        False,
        "[BODY].data (INVALID) == OK",
        body='{"data": null}',
    ),
    case(
        "path-body-not-json",
        "[BODY].status == ok",
        False,
        "[BODY].status (INVALID) == ok",
        body="<html>down</html>",
    ),
    case("path-body-missing", "[BODY].status == ok", False, "[BODY].status (INVALID) == ok"),
    case("path-missing-not-equal-passes", "[BODY].error != fatal", True, body="{}"),
    case(
        "path-missing-both-sides",
        "[BODY].a == [BODY].b",
        False,
        "[BODY].a (INVALID) == [BODY].b (INVALID)",
        body="{}",
    ),
    case(
        "path-missing-ordering-fails",
        "[BODY].queue < 5",
        False,
        "[BODY].queue (INVALID) < 5",
        body="{}",
    ),
    case("path-int-equal", "[BODY].data.id == 1", True, body='{"data": {"id": 1}}'),
    case("path-big-number-in-full", "[BODY].count == 1000000", True, body='{"count": 1e6}'),
    case("path-float-equal", "[BODY].ratio == 1.5", True, body='{"ratio": 1.5}'),
    case("path-float-ordering-exact", "[BODY].ratio > 1", True, body='{"ratio": 1.5}'),
    case("path-float-integral", "[BODY].n == 2", True, body='{"n": 2.0}'),
    case(
        "path-version-strings-stay-text",
        "[BODY].version == 1.1",
        False,
        "[BODY].version (1.10) == 1.1",
        body='{"version": "1.10"}',
    ),
    case("path-hex-equal", "[BODY].data == 1", True, body='{"data": "0x1"}'),
    case("path-hex-greater", "[BODY].data > 0", True, body='{"data": "0xF"}'),
    case("path-binary-equal", "[BODY].data == 2", True, body='{"data": "0b0010"}'),
    case("path-bool", "[BODY].healthy == true", True, body='{"healthy": true}'),
    case(
        "path-bool-fail",
        "[BODY].healthy == true",
        False,
        "[BODY].healthy (false) == true",
        body='{"healthy": false}',
    ),
    case(
        "path-object-minified",
        '[BODY].data == {"a":1,"b":2}',
        True,
        body='{"data": {"b": 2, "a": 1}}',
    ),
    case("path-array-as-gatus-prints", "[BODY].tags == [a b]", True, body='{"tags": ["a", "b"]}'),
    case("path-vs-path", "[BODY].age == [BODY].id", True, body='{"age": 1, "id": 1}'),
    case(
        "path-vs-path-fail",
        "[BODY].user.first == [BODY].user.last",
        False,
        "[BODY].user.first (john) == [BODY].user.last (doe)",
        body='{"user": {"first": "john", "last": "doe"}}',
    ),
    case("status-vs-path", "[STATUS] == [BODY].code", True, status=200, body='{"code": 200}'),
    case("ordering-text-is-zero", "[BODY].name < 5", True, body='{"name": "abc"}'),
    case(
        "ordering-text-is-zero-fail",
        "[BODY].name > 5",
        False,
        "[BODY].name (0) > 5",
        body='{"name": "abc"}',
    ),
    case("ordering-duration-in-body", "[BODY].uptime > 1h", True, body='{"uptime": "2h"}'),
    # literals
    case("literal-with-spaces", "[BODY].msg == all good", True, body='{"msg": "all good"}'),
    case(
        "literal-with-other-operator",
        "[BODY].title == Home > Docs",
        True,
        body='{"title": "Home > Docs"}',
    ),
    case(
        "literal-quotes-are-kept",
        '[BODY].status == "ok"',
        False,
        '[BODY].status (ok) == "ok"',
        body='{"status": "ok"}',
    ),
    case("literal-only", "raw == raw", True),
    case("literal-only-fail", "1 == 2", False, "1 == 2"),
    # len()
    case("len-string", "len([BODY].name) == 8", True, body='{"name": "john.doe"}'),
    case("len-string-characters", "len([BODY].name) == 4", True, body='{"name": "café"}'),
    case("len-array", "len([BODY].data) == 3", True, body='{"data": [1, 2, 3]}'),
    case(
        "len-array-fail",
        "len([BODY].tools) == 2",
        False,
        "len([BODY].tools) (1) == 2",
        body='{"tools": [{"name": "x"}]}',
    ),
    case(
        "len-object-is-minified-json",
        "len([BODY].data) == 13",
        True,
        body='{"data": {"b": 2, "a": 1}}',
    ),
    case("len-object-in-array", "len([BODY][0]) == 23", True, body='[{"age":18,"adult":true}]'),
    case("len-number", "len([BODY].age) == 2", True, body='{"age": 18}'),
    case("len-bool", "len([BODY].adult) == 4", True, body='{"adult": true}'),
    case("len-body-array", "len([BODY]) == 3", True, body='[{"id": 1}, {"id": 2}, {"id": 3}]'),
    case("len-body-text", "len([BODY]) == 8", True, body="john.doe"),
    case("len-body-object-text", "len([BODY]) == 20", True, body='{"name": "john.doe"}'),
    case("len-body-missing", "len([BODY]) == 0", True),
    case(
        "len-missing-path",
        "len([BODY].data) == 8",
        False,
        "len([BODY].data) (INVALID) == 8",
        body='{"name": "john.doe"}',
    ),
    case(
        "len-ordering-fail",
        "len([BODY].items) > 0",
        False,
        "len([BODY].items) (0) > 0",
        body='{"items": []}',
    ),
    case("len-ip", "len([IP]) == 9", True, ip="127.0.0.1"),
    # has()
    case("has-present", "has([BODY].users) == true", True, body='{"users": []}'),
    case("has-absent", "has([BODY].errors) == false", True, body="{}"),
    case(
        "has-fail",
        "has([BODY].errors) == false",
        False,
        "has([BODY].errors) (true) == false",
        body='{"errors": ["1"]}',
    ),
    case(
        "has-nested-index",
        "has([BODY].users[0].name) == true",
        True,
        body='{"users": [{"name": "a"}]}',
    ),
    case("has-null-is-absent", "has([BODY].x) == false", True, body='{"x": null}'),
    case("has-body-not-json", "has([BODY].x) == false", True, body="plain text"),
    case("has-body", "has([BODY]) == true", True, body="x"),
    case("has-body-missing", "has([BODY]) == false", True),
    case("has-ip-missing", "has([IP]) == false", True),
    case("has-ip", "has([IP]) == true", True, ip="::1"),
    # pat()
    case("pat-body", "[BODY] == pat(*john*)", True, body='{"name": "john.doe"}'),
    case("pat-path", "[BODY].name == pat(john*)", True, body='{"name": "john.doe"}'),
    case(
        "pat-path-fail",
        "[BODY].name == pat(bob*)",
        False,
        "[BODY].name (john.doe) == pat(bob*)",
        body='{"name": "john.doe"}',
    ),
    case("pat-on-the-left", "pat(*john*) == [BODY]", True, body="hi john"),
    case(
        "pat-on-the-left-fail",
        'pat(*<div id="user">john.doe</div>*) == [BODY]',
        False,
        'pat(*<div id="user">john.doe</div>*) == [BODY] (' + HTML[:100] + "...(truncated))",
        body=HTML,
    ),
    case(
        "pat-html-with-slashes", '[BODY] == pat(*<div id="user">jane.doe</div>*)', True, body=HTML
    ),
    case("pat-not-equal", "[BODY] != pat(*error*)", True, body="all good"),
    case(
        "pat-not-equal-fail",
        "[BODY] != pat(*error*)",
        False,
        "[BODY] (an error) != pat(*error*)",
        body="an error",
    ),
    case("pat-status", "[STATUS] == pat(4*)", True, status=404),
    case("pat-status-fail", "[STATUS] == pat(4*)", False, "[STATUS] (200) == pat(4*)", status=200),
    case("pat-ip", "[IP] == pat(192.168.*)", True, ip="192.168.1.20"),
    case("pat-question-mark", "[IP] == pat(10.0.0.?)", True, ip="10.0.0.7"),
    case(
        "pat-question-mark-one-char",
        "[IP] == pat(10.0.0.?)",
        False,
        "[IP] (10.0.0.17) == pat(10.0.0.?)",
        ip="10.0.0.17",
    ),
    case("pat-class", "[STATUS] == pat(2[0-9][0-9])", True, status=204),
    case(
        "pat-negated-class",
        "[STATUS] == pat([^5]*)",
        False,
        "[STATUS] (503) == pat([^5]*)",
        status=503,
    ),
    case("pat-escaped-star", "[BODY] == pat(*\\*important\\**)", True, body="this is *important*"),
    case("pat-across-lines", "[BODY] == pat(*</html>)", True, body="<html>\n<p>a/b</p>\n</html>"),
    case(
        "pat-in-array",
        "[BODY].data == pat(*Whatever*)",
        True,
        body='{"data": ["hello", "world", "Whatever"]}',
    ),
    case("pat-containing-operator", "[BODY] == pat(*a == b*)", True, body="x a == b y"),
    case("pat-containing-parentheses", "[BODY] == pat(*fn(x)*)", True, body="call fn(x) now"),
    case(
        "pat-missing-path-fails",
        "[BODY].x == pat(*)",
        False,
        "[BODY].x (INVALID) == pat(*)",
        body="{}",
    ),
    # pat() on a long body that a naive regex would never finish: see the hang guard below
    # any()
    case("any-first", "[STATUS] == any(200, 429)", True, status=200),
    case("any-second", "[STATUS] == any(200, 429)", True, status=429),
    case(
        "any-fail",
        "[STATUS] == any(200, 429)",
        False,
        "[STATUS] (404) == any(200, 429)",
        status=404,
    ),
    case("any-on-the-left", "any(200, 429) == [STATUS]", True, status=429),
    case("any-path", "[BODY].ip == any(127.0.0.1, ::1)", True, body='{"ip": "::1"}'),
    case("any-not-equal", "[STATUS] != any(500, 503)", True, status=200),
    case(
        "any-not-equal-fail",
        "[STATUS] != any(500, 503)",
        False,
        "[STATUS] (503) != any(500, 503)",
        status=503,
    ),
    case(
        "any-missing-path-fails",
        "[BODY].x == any(1, 2)",
        False,
        "[BODY].x (INVALID) == any(1, 2)",
        body="{}",
    ),
]


@pytest.mark.parametrize(("condition", "ctx", "success", "detail"), SCENARIOS)
def test_condition(condition: str, ctx: dict[str, Any], success: bool, detail: str) -> None:
    # Given a condition as a user writes it and what a probe observed
    parsed = parse_condition(condition)
    # When it is evaluated
    result = parsed.evaluate(EvalContext(**ctx))
    # Then the verdict and the reported detail are Gatus's
    assert result == ConditionResult(condition=condition, success=success, detail=detail)


INVALID = [
    pytest.param("", "empty", id="empty"),
    pytest.param("   ", "empty", id="blank"),
    pytest.param("[STATUS]==201", "space on each side", id="no-spaces"),
    pytest.param("[STATUS] ? 201", "expected two values", id="unknown-operator"),
    pytest.param("[STATUS] ?", "expected two values", id="question-mark"),
    pytest.param("[STATUS] = = 201", "expected two values", id="split-operator"),
    pytest.param("[STATUS]", "expected two values", id="lone-placeholder"),
    pytest.param("[STATUS] ==", "right side", id="missing-right"),
    pytest.param("== 200", "left side", id="missing-left"),
    pytest.param("[STATUS] == 200 == 200", "more than once", id="operator-twice"),
    pytest.param("[STATUSS] == 200", "unknown placeholder [STATUSS]", id="unknown-placeholder"),
    pytest.param("[CONTEXT].user == 1", "unknown placeholder [CONTEXT]", id="context-placeholder"),
    pytest.param("[status_code] == 1", "unknown placeholder", id="unknown-lowercase-placeholder"),
    pytest.param("[STATUS == 200", "unbalanced brackets", id="unclosed-placeholder"),
    pytest.param("[BODY].users[0 == 1", "unbalanced brackets", id="unclosed-index"),
    pytest.param("[BODY].users] == 1", "unbalanced brackets", id="stray-bracket"),
    pytest.param("len([BODY].users == 100", "unbalanced parentheses", id="unclosed-len"),
    pytest.param("len([BODY].users)) == 1", "unbalanced parentheses", id="extra-paren"),
    pytest.param("[BODY].users) == 1", "unbalanced parentheses", id="stray-paren"),
    pytest.param("foo([BODY]) == 1", "unknown function foo()", id="unknown-function"),
    pytest.param("LEN([BODY]) == 1", "unknown function LEN()", id="function-case"),
    pytest.param("len(5) == 1", "takes a placeholder", id="len-of-literal"),
    pytest.param("has() == true", "takes a placeholder", id="has-empty"),
    pytest.param("[STATUS].code == 200", "only [BODY] takes a path", id="path-on-status"),
    pytest.param("[BODY]x == 1", "unexpected 'x'", id="junk-after-body"),
    pytest.param("[BODY]..a == 1", "empty key", id="empty-key"),
    pytest.param("[BODY].a[x] == 1", "non-negative integer", id="index-not-a-number"),
    pytest.param("[BODY].a[-1] == 1", "non-negative integer", id="negative-index"),
    pytest.param("[STATUS] < pat(2*)", "only with == and !=", id="pat-ordering"),
    pytest.param("[STATUS] >= any(200)", "only with == and !=", id="any-ordering"),
    pytest.param("pat(a) == any(a)", "only one side", id="pat-and-any"),
    pytest.param("[BODY] == pat(*[*)", "malformed character class", id="pat-unclosed-class"),
    pytest.param("[BODY] == pat([]a)", "malformed character class", id="pat-empty-class"),
    pytest.param("[BODY] == pat(abc\\)", "escape character", id="pat-trailing-escape"),
]


@pytest.mark.parametrize(("condition", "problem"), INVALID)
def test_invalid_condition(condition: str, problem: str) -> None:
    with pytest.raises(ConditionError) as raised:
        parse_condition(condition)
    message = str(raised.value)
    assert problem in message
    assert repr(condition) in message  # the message quotes the condition as written


def test_non_string_condition_is_a_condition_error() -> None:
    with pytest.raises(ConditionError, match="expected a string"):
        parse_condition(200)  # type: ignore[arg-type]


def test_condition_error_is_a_value_error() -> None:
    # config validation (pydantic) turns ValueErrors into field errors
    assert issubclass(ConditionError, ValueError)


def test_evaluate_all_keeps_order_and_evaluates_every_condition() -> None:
    parsed = [parse_condition(c) for c in ("[STATUS] == 200", "[BODY].ok == true", "[IP] != x")]
    results = evaluate_all(parsed, EvalContext(status=500, body='{"ok": true}', ip="1.1.1.1"))
    assert [(r.condition, r.success) for r in results] == [
        ("[STATUS] == 200", False),
        ("[BODY].ok == true", True),
        ("[IP] != x", True),
    ]


def test_body_is_parsed_once_and_only_when_a_path_needs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def loads(text: str) -> Any:
        calls.append(text)
        return json.loads(text)

    monkeypatch.setattr(conditions, "json", SimpleNamespace(loads=loads, dumps=json.dumps))
    ctx = EvalContext(status=200, body='{"a": 1, "b": [1, 2]}')
    whole = [parse_condition("[STATUS] == 200"), parse_condition("[BODY] == pat(*a*)")]
    assert all(r.success for r in evaluate_all(whole, ctx))
    assert calls == []
    paths = [
        parse_condition(c)
        for c in ("[BODY].a == 1", "len([BODY].b) == 2", "has([BODY].c) == false")
    ]
    assert all(r.success for r in evaluate_all(paths, ctx))
    assert len(calls) == 1


def test_a_replaced_body_is_parsed_again() -> None:
    condition = parse_condition("[BODY].a == 1")
    ctx = EvalContext(body='{"a": 1}')
    assert condition.evaluate(ctx).success
    ctx.body = '{"a": 2}'
    assert condition.evaluate(ctx).detail == "[BODY].a (2) == 1"


@pytest.mark.parametrize("depth", [50_000, 900])
def test_a_deeply_nested_body_fails_instead_of_raising(depth: int) -> None:
    body = '{"a":' * depth + "1" + "}" * depth
    results = evaluate_all(
        [parse_condition("[BODY].b == 1"), parse_condition("[BODY].a == x")],
        EvalContext(body=body),
    )
    assert results[0].detail == "[BODY].b (INVALID) == 1"
    assert results[1].success is False


def test_placeholders_tell_a_probe_what_to_collect() -> None:
    assert parse_condition("len([BODY].x) > [STATUS]").placeholders == {"BODY", "STATUS"}
    assert parse_condition("[ip] == pat(10.*)").placeholders == {"IP"}
    assert parse_condition("1 == 1").placeholders == frozenset()


def test_result_is_immutable() -> None:
    result = parse_condition("[STATUS] == 200").evaluate(EvalContext(status=200))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.success = False  # type: ignore[misc]


def test_conditions_compare_by_text() -> None:
    assert parse_condition("[STATUS] == 200") == parse_condition("[STATUS] == 200")
    assert parse_condition("[STATUS] == 200") != parse_condition("[STATUS] == 201")
    assert isinstance(parse_condition("[STATUS] == 200"), Condition)


BACKTRACKING = "[BODY] == pat(*a*a*a*a*a*a*b)"
LONG_BODIES = {"spaces": "{}" + " " * 10_000, "a": "a" * 50_000}
_EVALUATE_IN_A_CHILD = """
import json, sys
from healthwatch.conditions import EvalContext, evaluate_all, parse_condition
job = json.load(sys.stdin)
parsed = [parse_condition(t) for t in job["texts"]]
json.dump(
    {
        name: [[r.condition, r.success, r.detail] for r in evaluate_all(parsed, EvalContext(status=200, body=body))]
        for name, body in job["bodies"].items()
    },
    sys.stdout,
)
"""


def test_no_condition_hangs_on_a_long_body() -> None:
    """A hang guard, not a performance assertion (timing belongs in `make bench`).

    Translated naively into a regex (`.*a.*a.*a.*a.*a.*a.*b`), `BACKTRACKING` backtracks
    O(n^6) on 50,000 "a"s: it would not finish within any CI job, while pat()'s atomic groups
    keep it from backtracking. So the 10 s bound only tells "finishes" from "never finishes".
    It runs in a child process, killed at the bound, because a regex match holds the GIL: a
    thread's join(timeout) would wait as long as the match, and the suite would hang.
    """
    texts = [p.values[0] for p in SCENARIOS] + [BACKTRACKING]
    job = json.dumps({"texts": texts, "bodies": LONG_BODIES})

    try:
        child = subprocess.run(
            [sys.executable, "-c", _EVALUATE_IN_A_CHILD],
            input=job,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("evaluating the conditions on a long body never finished (backtracking?)")

    assert child.returncode == 0, child.stderr
    evaluated = json.loads(child.stdout)
    for name in LONG_BODIES:  # every condition parsed and has its result, in order
        assert [condition for condition, _, _ in evaluated[name]] == texts
    assert evaluated["a"][-1] == [
        BACKTRACKING,
        False,
        "[BODY] (" + "a" * 100 + "...(truncated)) == pat(*a*a*a*a*a*a*b)",
    ]
