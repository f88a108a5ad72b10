"""`healthwatch run --backend aws` and `healthwatch history --backend aws` against the stack."""

from __future__ import annotations

import json

from healthwatch.cli import main

from tests.integration.conftest import Subscription, events_of, unique, write_config


def test_run_and_history_with_the_aws_backend(
    aws_env, stack, moto_server, monkeypatch, tmp_path, target, capsys
):
    # Given a config and the stack's resources (named by the stack, as a laptop would)
    cid = unique()
    config = write_config(tmp_path, [(cid, target.url)], failure_threshold=1)
    for name in ("RESULTS_BUCKET", "HISTORY_TABLE", "ALERT_TOPIC_ARN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HEALTHWATCH_STACK", stack.name)
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
    for name in ("RESULTS_BUCKET", "HISTORY_TABLE", "ALERT_TOPIC_ARN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HEALTHWATCH_STACK", stack.name)
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
