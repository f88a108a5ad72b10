"""`healthwatch query`: the README's Athena queries, unchanged, on DuckDB over what the
engine wrote; the answers checked against the stored records themselves."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.fakes.server import FakeServer, Response
from tests.helpers import healthwatch

ROOT = Path(__file__).resolve().parents[2]


def readme_queries() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Querying with Athena", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sql\n(.*?)```", section, re.S)
    return [q.strip() for q in block.split(";") if q.strip()]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Five runs of two checks, written by the real command: llamaindex-mcp fails its
    condition on runs 2 and 4, agent-service is up throughout."""
    tmp = tmp_path_factory.mktemp("query")
    answers = iter([200, 503, 200, 503, 200])
    current = {"code": 200}
    with FakeServer() as server:
        server.route("GET", "/agent", Response(200, {"status": "ok"}))
        server.route("GET", "/mcp", lambda req: Response(current["code"], {"status": "x"}))
        doc = {
            "defaults": {"failure_threshold": 1, "retry_interval": 0, "timeout": "2s"},
            "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
            "checks": [
                {"id": "agent-service", "tier": "quick", "url": f"{server.url}/agent"},
                {
                    "id": "llamaindex-mcp",
                    "tier": "quick",
                    "url": f"{server.url}/mcp",
                    "conditions": ["[STATUS] == 200"],
                },
            ],
        }
        config = tmp / "checks.yaml"
        config.write_text(json.dumps(doc))
        for code in answers:
            current["code"] = code
            healthwatch(config, tmp / "data", "run")
    records = [
        json.loads(line)
        for path in sorted((tmp / "data" / "results").glob("tier=*/dt=*/*.json"))
        for line in path.read_text().splitlines()
    ]
    assert len(records) == 10
    return tmp, records


def query(tmp: Path, sql: str):
    return healthwatch(tmp / "missing.yaml", tmp / "data", "query", sql, "--json")


def test_the_readme_uptime_query_matches_the_records(history):
    tmp, records = history
    uptime_sql, _ = readme_queries()

    proc = query(tmp, uptime_sql)

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["columns"] == ["day", "tier", "check_id", "runs", "down", "uptime_pct"]
    day = records[0]["started_at"][:10]
    runs = Counter(r["check_id"] for r in records)
    down = Counter(r["check_id"] for r in records if r["status"] == "down")
    expected = [
        [
            day,
            "quick",
            cid,
            runs[cid],
            down[cid],
            round(100.0 * (runs[cid] - down[cid]) / runs[cid], 3),
        ]
        for cid in sorted(runs)
    ]
    assert doc["rows"] == expected
    assert down == {"llamaindex-mcp": 2}


def test_the_readme_why_was_it_down_query_names_the_failed_conditions(history):
    tmp, records = history
    _, why_sql = readme_queries()

    proc = query(tmp, why_sql)

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["columns"] == ["started_at", "error", "detail"]
    failed = [r for r in records if r["check_id"] == "llamaindex-mcp" and r["status"] == "down"]
    assert [row[0] for row in doc["rows"]] == sorted(r["started_at"] for r in failed)
    assert {row[2] for row in doc["rows"]} == {"[STATUS] (503) == 200"}


def test_tier_and_dt_come_from_the_keys_and_details_is_json(history):
    tmp, records = history
    proc = query(
        tmp,
        "SELECT tier, dt, count(*) AS n, count(DISTINCT run_id) AS runs, "
        "max(json_extract_scalar(details, '$.maintenance')) AS m FROM results GROUP BY 1, 2",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"] == [
        ["quick", records[0]["started_at"][:10], 10, 5, None]
    ]


def test_bad_sql_is_exit_2_with_the_engines_message(history):
    tmp, _ = history
    proc = query(tmp, "SELEC * FROM results")
    assert proc.returncode == 2
    assert "query: Parser Error" in proc.stderr and "SELEC" in proc.stderr
    missing = query(tmp, "SELECT nope FROM results")
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_an_empty_data_directory_is_an_empty_table(tmp_path):
    proc = healthwatch(
        tmp_path / "x.yaml",
        tmp_path / "none",
        "query",
        "SELECT count(*) AS n FROM healthwatch.results",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"columns": ["n"], "rows": [[0]]}
