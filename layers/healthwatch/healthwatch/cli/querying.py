"""`healthwatch query SQL`: the results table, locally on DuckDB, on AWS through Athena.

Locally the table `results` (also `healthwatch.results`, as the Athena database names it)
is a view over the JSON Lines objects under `results/`, with the Athena table's columns:
the result record's fields, `details` as JSON text, `conditions` as an array of structs,
and `tier` and `dt` from the keys. `json_extract_scalar` and `date_format` are defined as
macros, so the README's Athena queries run unchanged. DuckDB is the optional extra
`healthwatch[query]`: never in the Lambda layer.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from healthwatch.cli.running import backend_name
from healthwatch.cli.terminal import Terminal
from healthwatch.errors import UsageError
from healthwatch.runtime import local as local_runtime
from healthwatch.storage.keys import RESULTS_PREFIX

# The Athena table's columns (template.yaml's ResultsTable), as DuckDB types.
COLUMNS = {
    "run_id": "VARCHAR",
    "check_id": "VARCHAR",
    "check_name": "VARCHAR",
    "type": "VARCHAR",
    "target": "VARCHAR",
    "started_at": "VARCHAR",
    "status": "VARCHAR",
    "latency_ms": "DOUBLE",
    "http_status": "INTEGER",
    "error": "VARCHAR",
    "attempts": "INTEGER",
    "conditions": "STRUCT(condition VARCHAR, success BOOLEAN, detail VARCHAR)[]",
    "details": "JSON",
}
# What Athena (Trino) has and DuckDB calls otherwise.
MACROS = (
    "CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
    "CREATE MACRO date_format(d, f) AS strftime(d, f)",
)
ATHENA_POLL_S = 0.5


def local_connection(data_dir: str | Path) -> Any:
    try:
        import duckdb
    except ImportError:
        raise UsageError(
            "query on the local backend needs DuckDB: pip install 'healthwatch[query]'"
        ) from None
    con = duckdb.connect(":memory:")
    base = Path(data_dir) / RESULTS_PREFIX
    files = sorted(base.glob("tier=*/dt=*/*.json"))
    if files:
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items())
        glob = str(base / "tier=*" / "dt=*" / "*.json").replace("'", "''")
        source = (
            f"read_json('{glob}', format='newline_delimited', hive_partitioning=true, "
            f"hive_types={{'tier': 'VARCHAR', 'dt': 'VARCHAR'}}, columns={{{columns}}})"
        )
        # Only our column names and the data directory (quoted above) go into this text.
        select = f"SELECT {', '.join(COLUMNS)}, tier, dt FROM {source}"  # noqa: S608
    else:  # no run yet: the same columns, no rows
        typed = ", ".join(f"NULL::{kind} AS {name}" for name, kind in COLUMNS.items())
        select = f"SELECT {typed}, NULL::VARCHAR AS tier, NULL::VARCHAR AS dt WHERE false"
    con.execute(f"CREATE VIEW results AS {select}")
    con.execute("CREATE SCHEMA healthwatch")
    con.execute("CREATE VIEW healthwatch.results AS SELECT * FROM main.results")
    for macro in MACROS:
        con.execute(macro)
    return con


def run_local(sql: str, data_dir: str | Path) -> tuple[list[str], list[list[Any]]]:
    import duckdb

    con = local_connection(data_dir)
    try:
        cursor = con.execute(sql)
    except duckdb.Error as exc:
        raise UsageError(f"query: {exc}") from None
    if cursor.description is None:
        return [], []
    columns = [d[0] for d in cursor.description]
    return columns, [list(row) for row in cursor.fetchall()]


def run_athena(sql: str, term: Terminal) -> tuple[list[str], list[list[Any]]]:
    """Start the query in the stack's workgroup, poll (a counter on a terminal), page."""
    from healthwatch.runtime.clients import client
    from healthwatch.runtime.settings import settings

    env = settings().require("RESULTS_BUCKET")
    athena = client("athena")
    params: dict[str, Any] = {
        "QueryString": sql,
        "WorkGroup": env.athena_workgroup,
        "QueryExecutionContext": {"Database": env.glue_database},
        "ResultConfiguration": {"OutputLocation": f"s3://{env.results_bucket}/athena/"},
    }
    try:
        qid = athena.start_query_execution(**params)["QueryExecutionId"]
    except athena.exceptions.InvalidRequestException as exc:
        raise UsageError(f"query: {exc.response['Error'].get('Message', exc)}") from None
    started = time.monotonic()
    while True:
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason") or state.lower()
            raise UsageError(f"query: {reason}")
        if term.stderr.isatty():
            term.stderr.write(f"\rathena: {state.lower()} {time.monotonic() - started:.0f}s ")
            term.stderr.flush()
        time.sleep(ATHENA_POLL_S)
    if term.stderr.isatty():
        term.stderr.write("\r" + " " * 40 + "\r")
    columns: list[str] = []
    rows: list[list[Any]] = []
    first = True
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
        meta = page["ResultSet"].get("ResultSetMetadata", {}).get("ColumnInfo", [])
        columns = columns or [c["Name"] for c in meta]
        for row in page["ResultSet"].get("Rows", []):
            values = [d.get("VarCharValue") for d in row.get("Data", [])]
            if first and values == columns:  # Athena repeats the header as the first row
                first = False
                continue
            first = False
            rows.append(values)
    return columns, rows


def cmd_query(args: argparse.Namespace, term: Terminal) -> int:
    if backend_name(args) == "aws":
        columns, rows = run_athena(args.sql, term)
    else:
        columns, rows = run_local(args.sql, local_runtime.data_dir(args.data_dir))
    if args.json:
        json.dump({"columns": columns, "rows": rows}, term.stdout, indent=2, default=str)
        term.stdout.write("\n")
        return 0
    shown = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in shown]) for i, c in enumerate(columns)]
    term.out("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in shown:
        term.out("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    term.err(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0
