"""`healthwatch run --backend aws` and `healthwatch history --backend aws` against the stack."""

from __future__ import annotations

import json

from healthwatch.cli import main

from tests.integration.conftest import Subscription, events_of, unique, write_config


def laptop(monkeypatch, stack) -> None:
    """A laptop's view of the deployed monitor: no resource names, only the stack's."""
    for name in ("RESULTS_BUCKET", "HISTORY_TABLE", "ALERT_TOPIC_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEALTHWATCH_STACK", stack.name)


def test_run_and_history_with_the_aws_backend(
    aws_env, stack, moto_server, monkeypatch, tmp_path, target, capsys
):
    # Given a config and the stack's resources (named by the stack, as a laptop would)
    cid = unique()
    config = write_config(tmp_path, [(cid, target.url)], failure_threshold=1)
    laptop(monkeypatch, stack)
    inbox = Subscription(moto_server, stack.outputs["AlertTopicArn"])

    # When the command runs the tier twice, the second time against a failing target
    assert (
        main(["run", "--backend", "aws", "--config", str(config), "--tier", "quick", "--json"]) == 0
    )
    first = json.loads(capsys.readouterr().out)
    target.status = 500
    assert main(["run", "--backend", "aws", "--config", str(config), "--json"]) == 1
    second = json.loads(capsys.readouterr().out)

    # Then the alert went through the topic, and S3 has both runs
    assert [a["event"] for a in second["alerts"]] == ["triggered"]
    assert events_of(inbox.receive()) == [("triggered", cid)]
    s3 = moto_server.client("s3")
    latest = s3.get_object(Bucket=stack.outputs["ResultsBucket"], Key="latest/quick.json")
    assert json.loads(latest["Body"].read())["run_id"] == second["run_id"]

    # and `history` reads both results back from DynamoDB
    assert (
        main(
            [
                "history",
                "--backend",
                "aws",
                "--config",
                str(config),
                "--check",
                cid,
                "--since",
                "1h",
                "--json",
            ]
        )
        == 0
    )
    history = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in history] == [first["run_id"], second["run_id"]]
    assert [r["status"] for r in history] == ["up", "down"]
    assert (
        main(["history", "--backend", "aws", "--config", str(config), "--check", cid, "--no-color"])
        == 0
    )
    assert "DOWN" in capsys.readouterr().out


def test_a_missing_environment_is_a_usage_error(aws_env, monkeypatch, tmp_path, target, capsys):
    config = write_config(tmp_path, [(unique(), target.url)])
    monkeypatch.delenv("ALERT_TOPIC_ARN")
    assert main(["run", "--backend", "aws", "--config", str(config)]) == 2
    assert "ALERT_TOPIC_ARN is not set" in capsys.readouterr().err


def test_silence_and_incidents_with_the_aws_backend(
    aws_env, stack, moto_server, monkeypatch, tmp_path, target, capsys
):
    # Given the deployed stack, a check silenced from a laptop, and its target failing
    cid = unique()
    config = write_config(tmp_path, [(cid, target.url)], failure_threshold=1)
    laptop(monkeypatch, stack)
    inbox = Subscription(moto_server, stack.outputs["AlertTopicArn"])
    aws = ["--backend", "aws", "--config", str(config)]
    assert main(["silence", cid, "--for", "2h", "--reason", "migration", *aws]) == 0
    assert "silenced" in capsys.readouterr().out
    target.status = 500

    # When the tier runs: the result is marked and nothing is published
    assert main(["run", *aws, "--json"]) == 1
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["details"]["silenced"]["reason"] == "migration"
    assert inbox.receive() == []

    # When it is unsilenced, the next run pages, and `incidents` (no config) shows it open
    assert main(["unsilence", cid, *aws]) == 0
    assert main(["run", *aws, "--json"]) == 1  # its output is read below, with unsilence's
    capsys.readouterr()
    assert events_of(inbox.receive()) == [("triggered", cid)]
    missing = str(tmp_path / "none.yaml")
    assert main(["incidents", "--backend", "aws", "--config", missing, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    mine = [i for i in listed["incidents"] if i["check_id"] == cid]
    assert [(i["tier"], i["silenced_until"]) for i in mine] == [("quick", None)]
    assert mine[0]["reason"].startswith("condition_failed")


def test_query_runs_on_athena_in_the_stacks_database(
    aws_env, stack, moto_server, monkeypatch, capsys
):
    """Start, poll and page through Athena's API (moto answers with the rows queued below;
    it does not run SQL itself: DuckDB's tests check the SQL)."""
    import requests

    laptop(monkeypatch, stack)
    header = [{"VarCharValue": "check_id"}, {"VarCharValue": "runs"}]
    rows = [header] + [
        [{"VarCharValue": c}, {"VarCharValue": n}] for c, n in (("a", "3"), ("b", "5"))
    ]
    queued = requests.post(
        f"{moto_server.url}/moto-api/static/athena/query-results",
        json={
            "region": "us-east-1",
            "results": [
                {
                    "rows": [{"Data": r} for r in rows],
                    "column_info": [
                        {"Name": "check_id", "Type": "varchar"},
                        {"Name": "runs", "Type": "bigint"},
                    ],
                }
            ],
        },
        timeout=10,
    )
    assert queued.status_code == 201
    sql = "SELECT check_id, count(*) AS runs FROM results GROUP BY 1"

    assert main(["query", sql, "--backend", "aws", "--json"]) == 0

    doc = json.loads(capsys.readouterr().out)
    assert doc == {"columns": ["check_id", "runs"], "rows": [["a", "3"], ["b", "5"]]}
    athena = moto_server.client("athena")
    (qid, *_) = athena.list_query_executions()["QueryExecutionIds"]
    execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    assert execution["Query"] == sql
    # The Glue database is not created in moto (tests/fakes/moto_server.py), so the stack has
    # no ResultsDatabaseName output here and the template's default name is used.
    assert "ResultsDatabaseName" not in stack.outputs
    assert execution["QueryExecutionContext"]["Database"] == "healthwatch"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(
        f"s3://{stack.outputs['ResultsBucket']}/athena/"
    )
