"""The run table's last lines: the tier summary and the overall health line."""

from __future__ import annotations

import io

from healthwatch.cli.running import overall_line, print_run
from healthwatch.cli.terminal import Terminal
from healthwatch.models import TierRun

from tests.helpers import config, result


class _Tty(io.StringIO):
    """A captured stream that says it is a terminal, so the table is coloured."""

    def isatty(self) -> bool:
        return True


def _run(*results):
    return TierRun(
        "integrations-x-0000", "integrations", results[0].started_at, 812.0, list(results)
    )


def _r(check_id, type_, status, latency, error=None):
    r = result(check_id, status, error=error, tier="integrations")
    r.type, r.latency_ms = type_, latency
    return r


def test_overall_line_counts_integrations_and_names_what_is_down():
    run = _run(
        _r("shopify", "shopify", "up", 812.0),
        _r("chatwoot", "chatwoot", "degraded", 120.0),
        _r("openai", "openai", "down", 95.0, "auth: the API key was rejected " + "x" * 80),
        _r("agent", "http", "up", 999.0),  # not an integration: left out of the count
    )
    line = overall_line(run)
    assert line.startswith("Overall: 1/3 integrations healthy")
    assert "slowest shopify (812 ms)" in line
    assert "down: openai (auth: the API key was rejected" in line and "…" in line
    assert "degraded: chatwoot" in line


def test_overall_line_for_plain_checks():
    run = _run(_r("a", "http", "up", 10.0), _r("b", "http", "up", 30.0))
    assert overall_line(run) == "Overall: 2/2 checks healthy · slowest b (30 ms)"


def test_table_without_colour_has_summary_and_failed_detail():
    config("""
        tiers: {integrations: {schedule: rate(1 hour)}}
        checks: [{id: a, tier: integrations, url: "http://127.0.0.1:9/"}]
    """)
    out = io.StringIO()
    run = _run(_r("a", "http", "down", 3.0, "connection_refused: connection refused"))
    print_run(run, Terminal(out, out))
    text = out.getvalue()
    assert "DOWN" in text and "connection_refused: connection refused" in text
    assert "integrations: 0 up, 0 degraded, 1 down" in text
    assert "\033[" not in text
    coloured = _Tty()
    print_run(run, Terminal(coloured, coloured, environ={}))
    assert "\033[31m" in coloured.getvalue()  # red for down
