"""template.yaml's Athena table fits what the S3 store writes; its alarms and dashboard watch
the metrics the run-tier function really emits."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from healthwatch.models import Result, TierRun
from healthwatch.runtime.config_source import load_config
from healthwatch.storage.s3 import S3ResultStore

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
BUCKET = "hw-results-bucket"


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, errors = decode_str(path.read_text(encoding="utf-8"))
    assert not errors, errors
    plain: dict[str, Any] = json.loads(json.dumps(template))
    return plain


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def sub(value: Any, names: dict[str, str]) -> str:
    """Resolve a `Fn::Sub` string the way CloudFormation would, for the names given."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    assert isinstance(text, str), value
    out = re.sub(r"\$\{(?!!)([^}]+)\}", lambda m: names[m.group(1)], text)
    return out.replace("${!", "${")


def sample_run() -> TierRun:
    started = datetime(2026, 11, 26, 20, 45, 0, 123000, tzinfo=UTC)
    full = Result(
        "quick-2026-11-26T20-45-00Z-3f9a",
        "quick",
        "agent-service",
        "Agent SDK Service",
        "http",
        "https://hotdash-agent-service.fly.dev/health",
        "2026-11-26T20:45:00.123Z",
        "degraded",
        284.1,
        200,
        None,
        1,
        [{"condition": "[STATUS] == 200", "success": True, "detail": "[STATUS] == 200"}],
        {
            "warnings": [{"condition": "[RESPONSE_TIME] < 500", "success": False}],
            "maintenance": "deploy",
            "nested": {"a": [1, 2]},
        },
    )
    bare = Result(
        "quick-2026-11-26T20-45-00Z-3f9a",
        "quick",
        "llamaindex-mcp",
        "LlamaIndex MCP",
        "http",
        "https://x/health",
        "2026-11-26T20:45:00.456Z",
        "down",
        None,
        None,
        "timeout: no answer in 5s",
        3,
    )
    return TierRun(
        "quick-2026-11-26T20-45-00Z-3f9a", "quick", started.isoformat(), 12.0, [full, bare]
    )


class RecordingS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **kw: Any) -> dict[str, Any]:  # noqa: N803
        assert Bucket == BUCKET
        self.objects[Key] = Body
        return {}


@pytest.fixture(scope="module")
def written() -> tuple[str, list[dict[str, Any]]]:
    """The key and the records of a run as the S3 result store writes them."""
    s3 = RecordingS3()
    run = sample_run()
    run.started_at = "2026-11-26T20:45:00.000Z"
    key = S3ResultStore(s3, BUCKET).write_run(run)
    assert key in s3.objects
    lines = s3.objects[key].decode().splitlines()
    return key, [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def table(template) -> dict[str, Any]:
    (props,) = resources(template, "AWS::Glue::Table").values()
    return props["TableInput"]


# -- the table -------------------------------------------------------------------------------


def test_columns_are_exactly_the_result_record(table, written):
    _, records = written
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    partitions = [p["Name"] for p in table["PartitionKeys"]]
    assert partitions == ["tier", "dt"]
    for record in records:
        # Every field written has a column (tier is the partition), every column a field.
        assert set(record) == set(columns) | {"tier"}
        for name, kind in columns.items():
            assert fits(record[name], kind), (name, kind, record[name])
    assert list(columns) == [f for f in Result.__dataclass_fields__ if f != "tier"]


def fits(value: Any, kind: str) -> bool:
    """Can the JSON SerDe read `value` into a column of `kind`? (null fits anything)"""
    if value is None:
        return True
    if kind == "string":  # OpenX reads a nested object as its JSON text
        return isinstance(value, str | dict | list)
    if kind == "double":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("int", "bigint"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    m = re.fullmatch(r"array<(.*)>", kind)
    if m:
        return isinstance(value, list) and all(fits(v, m.group(1)) for v in value)
    m = re.fullmatch(r"struct<(.*)>", kind)
    if m:
        fields = dict(f.split(":", 1) for f in m.group(1).split(","))
        return (
            isinstance(value, dict)
            and set(value) <= set(fields)
            and all(fits(value.get(k), t) for k, t in fields.items())
        )
    raise AssertionError(f"unexpected column type {kind}")


def test_the_json_serde_reads_the_lines(table, written):
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert sub(sd["Location"], {"ResultsBucket": BUCKET}) == f"s3://{BUCKET}/results/"


def test_partition_projection_fits_the_keys_the_s3_store_writes(template, table, written):
    key, records = written
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.tier.type"] == "enum"
    assert params["projection.dt.type"] == "date"
    assert params["projection.dt.format"] == "yyyy-MM-dd"
    assert params["projection.dt.interval.unit"] == "DAYS"
    # The location template, filled in with this record's partition values, is where the
    # S3 store put it.
    location = sub(params["storage.location.template"], {"ResultsBucket": BUCKET})
    assert location == f"s3://{BUCKET}/results/tier=${{tier}}/dt=${{dt}}/"
    for record in records:
        dt = datetime.fromisoformat(record["started_at"].replace("Z", "+00:00")).strftime(
            "%Y-%m-%d"
        )
        prefix = location.replace("${tier}", record["tier"]).replace("${dt}", dt)
        assert f"s3://{BUCKET}/{key}".startswith(prefix)
        assert "/" not in f"s3://{BUCKET}/{key}"[len(prefix) :]  # directly in the partition
    # The enum is the tiers of the shipped config.
    assert params["projection.tier.values"] == {"Fn::Join": [",", {"Ref": "TierNames"}]}
    tiers = template["Parameters"]["TierNames"]["Default"].split(",")
    assert tiers == list(load_config(ROOT / "checks.yaml").tiers)


def test_named_queries_use_the_table_and_its_columns(template, table):
    queries = resources(template, "AWS::Athena::NamedQuery")
    names = {q["Name"] for q in queries.values()}
    assert any("uptime" in n for n in names) and any("p95" in n for n in names)
    columns = {c["Name"] for c in table["StorageDescriptor"]["Columns"]} | {"tier", "dt"}
    for q in queries.values():
        assert q["Database"] == {"Ref": "ResultsDatabase"}
        sql = q["QueryString"]
        assert re.search(rf"\bFROM {table['Name']}\b", sql)
        assert {"check_id", "dt"} <= set(re.findall(r"[a-z_]+", sql)) & columns
        assert "WHERE dt >=" in sql  # reads only the days it needs


# -- self-monitoring ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emitted(template) -> set[tuple[str, str, frozenset[str]]]:
    """(namespace, metric, dimension names) of the EMF the run-tier function prints for a run."""
    import contextlib
    import io
    import os

    from aws_lambda_powertools import Metrics
    from healthwatch.runtime.lambda_support import record_metrics

    env = template["Globals"]["Function"]["Environment"]["Variables"]
    saved = {
        k: os.environ.get(k) for k in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE")
    }
    os.environ["POWERTOOLS_SERVICE_NAME"] = env["POWERTOOLS_SERVICE_NAME"]
    os.environ["POWERTOOLS_METRICS_NAMESPACE"] = env["POWERTOOLS_METRICS_NAMESPACE"]
    out = io.StringIO()
    try:
        metrics = Metrics()
        with contextlib.redirect_stdout(out):
            record_metrics(metrics, sample_run())
            metrics.flush_metrics()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    found = set()
    for line in out.getvalue().splitlines():
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dims in directive["Dimensions"]:
                for m in directive["Metrics"]:
                    found.add((directive["Namespace"], m["Name"], frozenset(dims)))
    return found


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::CloudWatch::Alarm")


def test_every_alarm_goes_to_the_alert_topic(template):
    assert len(alarms(template)) >= 8
    for name, alarm in alarms(template).items():
        assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}], name
        assert alarm["OKActions"] == [{"Ref": "AlertTopic"}], name


def test_run_function_errors_alarm(template):
    watched = {
        a["Dimensions"][0]["Value"]["Ref"]
        for a in alarms(template).values()
        if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Errors"
    }
    assert watched == {"RunQuickFunction", "RunIntegrationsFunction", "RunComprehensiveFunction"}


def test_a_missing_heartbeat_for_two_periods_alarms(template, emitted):
    from healthwatch.runtime.lambda_support import MAX_SHARDS

    env = template["Globals"]["Function"]["Environment"]["Variables"]
    heartbeats = {}
    for name, a in alarms(template).items():
        if a["MetricName"] != "Heartbeat":
            continue
        dims = {d["Name"]: d["Value"] for d in a["Dimensions"]}
        assert (a["Namespace"], "Heartbeat", frozenset(dims)) in emitted, name
        assert dims["service"] == env["POWERTOOLS_SERVICE_NAME"]
        assert a["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
        assert a["TreatMissingData"] == "breaching"
        assert a["EvaluationPeriods"] == 2 and a["DatapointsToAlarm"] == 2
        # Each shard reports 1/shards: a period's Sum is under the threshold as soon as
        # one shard of up to MAX_SHARDS did not run, and not under it when all did.
        assert a["ComparisonOperator"] == "LessThanThreshold" and a["Statistic"] == "Sum"
        assert sum([1 / MAX_SHARDS] * MAX_SHARDS) >= a["Threshold"]
        assert sum([1 / MAX_SHARDS] * (MAX_SHARDS - 1)) < a["Threshold"] < 1
        assert sum([1 / 3] * 3) >= a["Threshold"] > sum([1 / 3] * 2)
        heartbeats[dims["tier"]] = a["Period"]["Ref"]
    assert set(heartbeats) == {"quick", "integrations", "comprehensive"}
    # Each period parameter's default is its schedule's default period.
    params = template["Parameters"]
    for tier, period in heartbeats.items():
        schedule = params[f"{tier.capitalize()}Schedule"]["Default"]
        from healthwatch.config import TierConfig

        assert TierConfig(schedule=schedule).period_seconds == params[period]["Default"]


def test_dead_letter_queues_alarm_when_they_hold_messages(template):
    queues = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms(template).values()
        if a["Namespace"] == "AWS/SQS"
    }
    assert queues == {"DeadLetterQueue", "ChatFailureQueue"}
    for a in alarms(template).values():
        if a["Namespace"] == "AWS/SQS":
            assert a["MetricName"] == "ApproximateNumberOfMessagesVisible"
            assert a["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert a["Threshold"] == 1


def test_dashboard_shows_check_status_latency_and_tier_duration(template, emitted):
    (dash,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    names = {k: k for k in template["Resources"]}
    names.update({f"{k}.QueueName": k for k in template["Resources"]})
    names.update({f"{k}.Arn": k for k in template["Resources"]})
    names["AWS::Region"] = "us-east-1"
    body = json.loads(sub(dash["DashboardBody"], names))
    ours = {(ns, m): dims for ns, m, dims in emitted}
    shown = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], dict):  # a SEARCH over our own namespace
                expr = metric[0]["expression"]
                m = re.search(r"SEARCH\('\{(\w+),([\w,]+)\} MetricName=\"(\w+)\"", expr)
                assert m, expr
                ns, dims, name = m.group(1), frozenset(m.group(2).split(",")), m.group(3)
                assert ours.get((ns, name)) == dims, expr
                shown.add(name)
            elif metric[0] == "Healthwatch":
                dims = frozenset(metric[2::2])
                assert ours.get(("Healthwatch", metric[1])) == dims, metric
                shown.add(metric[1])
    assert {"CheckUp", "CheckLatency", "TierDuration", "Heartbeat"} <= shown
