"""The run-tier handler against the stack of template.yaml in moto: storage, alerts, overlap."""

from __future__ import annotations

import io
import json
import math
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from healthwatch.errors import ConfigError
from healthwatch.storage.keys import latest_key

from tests.integration.conftest import (
    Subscription,
    events_of,
    load_handler,
    unique,
    write_config,
)

RUN_TIER = "functions/run_tier/app.py"


def handler_for(aws_env, monkeypatch, tmp_path, checks, **config):
    """A cold start of the run-tier function with a config of `checks` ((id, url) pairs)."""
    monkeypatch.setenv("CHECKS_CONFIG", str(write_config(tmp_path, checks, **config)))
    return load_handler(RUN_TIER)


@pytest.mark.parametrize(
    "event_file",
    ["schedule-quick.json", "scheduled-event-quick.json"],
    ids=["scheduler", "classic"],
)
def test_a_scheduled_event_runs_its_tier_and_stores_everything(
    event_file, aws_env, stack, moto_server, monkeypatch, tmp_path, target, lambda_context
):
    # Given a quick tier of two checks
    a, b = unique(), unique()
    app = handler_for(aws_env, monkeypatch, tmp_path, [(a, target.url), (b, target.url)])

    # When the schedule fires, in either event shape
    from tests.integration.conftest import event

    summary = app.handler(event(event_file), lambda_context)

    # Then the run summary comes back
    assert summary["tier"] == "quick" and summary["checks"] == 2 and summary["up"] == 2
    # and S3 has one JSON Lines object for the run and latest/quick.json
    s3 = moto_server.client("s3")
    bucket = stack.outputs["ResultsBucket"]
    day = summary["started_at"][:10]
    stamp = summary["started_at"][:19].replace(":", "-")
    key = f"results/tier=quick/dt={day}/health-check-{stamp}Z-{summary['run_id'][-4:]}.json"
    lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    assert sorted(json.loads(line)["check_id"] for line in lines) == sorted([a, b])
    assert s3.get_object(Bucket=bucket, Key=key)["ContentType"] == "application/x-ndjson"
    latest = json.loads(s3.get_object(Bucket=bucket, Key=latest_key("quick"))["Body"].read())
    assert latest["run_id"] == summary["run_id"]
    # and DynamoDB has each result, the state, and the run summary, expiring in HISTORY_DAYS
    dynamodb = moto_server.client("dynamodb")
    table = stack.outputs["HistoryTable"]
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"check#{a}"}},
    )["Items"]
    assert sorted(i["sk"]["S"].split("#")[0] for i in items) == ["result", "state"]
    run_item = dynamodb.get_item(
        TableName=table,
        Key={"pk": {"S": "tier#quick"}, "sk": {"S": f"run#{summary['started_at']}"}},
    )["Item"]
    assert run_item["run_id"]["S"] == summary["run_id"]
    expires = datetime.fromtimestamp(int(run_item["expires_at"]["N"]), UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)


def test_unknown_tiers_are_rejected_clearly(aws_env, monkeypatch, tmp_path, target, lambda_context):
    from healthwatch.errors import UnknownTierError

    app = handler_for(aws_env, monkeypatch, tmp_path, [(unique(), target.url)])
    with pytest.raises(UnknownTierError, match=r"unknown tier 'nightly'.*quick, integrations"):
        app.handler({"tier": "nightly"}, lambda_context)
    with pytest.raises(UnknownTierError, match=r'expected \{"tier": "<name>"\}'):
        app.handler({"hello": "world"}, lambda_context)
    rule = {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "detail": {},
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/every-five-minutes"],
    }
    with pytest.raises(UnknownTierError, match="name the rule after a tier"):
        app.handler(rule, lambda_context)

    # A function deployed for one tier refuses the others (its timeout is that tier's).
    monkeypatch.setenv("HEALTHWATCH_TIERS", "quick")
    quick_only = load_handler(RUN_TIER)
    with pytest.raises(UnknownTierError, match="this function runs quick"):
        quick_only.handler({"tier": "comprehensive"}, lambda_context)


def test_a_bad_environment_fails_the_cold_start(aws_env, monkeypatch, tmp_path, target):
    monkeypatch.setenv("CHECKS_CONFIG", str(write_config(tmp_path, [(unique(), target.url)])))
    monkeypatch.delenv("ALERT_TOPIC_ARN")
    monkeypatch.setenv("HISTORY_DAYS", "zero")
    with pytest.raises(ConfigError) as failure:
        load_handler(RUN_TIER)
    assert "HISTORY_DAYS" in str(failure.value)
    monkeypatch.setenv("HISTORY_DAYS", "30")
    with pytest.raises(ConfigError, match="ALERT_TOPIC_ARN is not set"):
        load_handler(RUN_TIER)


def test_one_alert_when_the_threshold_is_reached_one_when_it_recovers(
    aws_env, stack, moto_server, monkeypatch, tmp_path, target, lambda_context
):
    # Given a check that fails, a threshold of 3 attempts, one attempt per run, no reminders
    cid = unique()
    target.status = 500
    app = handler_for(aws_env, monkeypatch, tmp_path, [(cid, target.url)], failure_threshold=3)
    everything = Subscription(moto_server, stack.outputs["AlertTopicArn"])
    resolved_only = Subscription(
        moto_server, stack.outputs["AlertTopicArn"], {"event": ["resolved"], "check_id": [cid]}
    )
    published = []
    app.RUN_TIER.runtime.ports.notifiers[0].client.meta.events.register(
        "provide-client-params.sns.Publish", lambda params, **kw: published.append(dict(params))
    )

    # When it runs twice: below the threshold, nothing
    for _ in range(2):
        app.handler({"tier": "quick"}, lambda_context)
    assert everything.receive() == []

    # Then the third failed attempt triggers exactly one alert
    app.handler({"tier": "quick"}, lambda_context)
    received = everything.receive()
    assert events_of(received) == [("triggered", cid)]
    notification = received[0]
    assert notification["Subject"] == f"[DOWN] Service {cid} (quick)"
    attributes = {k: v["Value"] for k, v in notification["MessageAttributes"].items()}
    assert attributes == {
        "event": "triggered",
        "severity": "critical",
        "tier": "quick",
        "check_id": cid,
        "id": json.loads(notification["Message"])["id"],
    }
    alert = json.loads(notification["Message"])
    assert alert["status"] == "down" and "[STATUS] (500) == 200" in alert["error"]
    # and the email text a person reads says what failed, since when, and what to do
    request = published[-1]
    assert request["MessageStructure"] == "json" and len(request["Subject"]) < 100
    text = json.loads(request["Message"])["email"]
    assert f"Service {cid} is DOWN" in text and "[STATUS] (500) == 200" in text
    assert "Since:" in text and "Last results" in text and "What to do:" in text

    # When it keeps failing: no more alerts (reminders are off)
    for _ in range(2):
        app.handler({"tier": "quick"}, lambda_context)
    assert everything.receive() == []

    # When it recovers: one resolved alert, and the filtered subscription gets only that
    target.status = 200
    app.handler({"tier": "quick"}, lambda_context)
    assert events_of(everything.receive()) == [("resolved", cid)]
    assert events_of(resolved_only.receive()) == [("resolved", cid)]
    assert "is back up" in json.loads(published[-1]["Message"])["email"]


def test_a_hard_down_target_alerts_in_the_first_run(
    aws_env, stack, moto_server, monkeypatch, tmp_path, target, lambda_context
):
    # Retries within the run reach the threshold: one run, three attempts, one alert.
    cid = unique()
    target.status = 503
    app = handler_for(
        aws_env,
        monkeypatch,
        tmp_path,
        [(cid, target.url)],
        failure_threshold=3,
        retry_interval="10ms",
    )
    inbox = Subscription(moto_server, stack.outputs["AlertTopicArn"])
    summary = app.handler({"tier": "quick"}, lambda_context)
    assert summary["alerts"] == 1
    (notification,) = inbox.receive()
    assert json.loads(notification["Message"])["result"]["attempts"] == 3


def test_two_overlapping_runs_of_a_tier_send_one_alert(
    aws_env, stack, moto_server, monkeypatch, tmp_path, target, lambda_context
):
    # Given two containers of the same function (two cold starts) and a failing target
    # slow enough that both runs read the alert state before either writes it
    cid = unique()
    target.status = 500
    target.delay = 0.3
    config = write_config(tmp_path, [(cid, target.url)], failure_threshold=1)
    monkeypatch.setenv("CHECKS_CONFIG", str(config))
    first, second = load_handler(RUN_TIER), load_handler(RUN_TIER)
    inbox = Subscription(moto_server, stack.outputs["AlertTopicArn"])

    # When both start at the same moment
    barrier = threading.Barrier(2)
    summaries: list[dict] = []

    def run(app):
        barrier.wait()
        summaries.append(app.handler({"tier": "quick"}, lambda_context))

    threads = [threading.Thread(target=run, args=(app,)) for app in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then both ran, and exactly one alert went out
    assert len(summaries) == 2 and all(s["down"] == 1 for s in summaries)
    assert sorted(s["alerts"] for s in summaries) == [0, 1]
    assert events_of(inbox.receive()) == [("triggered", cid)]


def test_an_alert_sns_refused_is_kept_and_sent_by_the_next_run(
    aws_env, stack, moto_server, monkeypatch, tmp_path, target, lambda_context
):
    from healthwatch.errors import RunError

    cid = unique()
    target.status = 500
    inbox = Subscription(moto_server, stack.outputs["AlertTopicArn"])
    # Given a topic that does not exist (deleted, or a wrong ARN)
    monkeypatch.setenv("ALERT_TOPIC_ARN", stack.outputs["AlertTopicArn"] + "-gone")
    broken = handler_for(aws_env, monkeypatch, tmp_path, [(cid, target.url)], failure_threshold=1)
    broken.RUN_TIER.runtime.ports.notifiers[0].sleep = lambda s: None
    # When the alert cannot be published, the run fails (Lambda's failure destination gets it)
    with pytest.raises(RunError, match="triggered alert not delivered"):
        broken.handler({"tier": "quick"}, lambda_context)
    # Then the next run, with the topic back, delivers it
    monkeypatch.setenv("ALERT_TOPIC_ARN", stack.outputs["AlertTopicArn"])
    fixed = load_handler(RUN_TIER)
    fixed.handler({"tier": "quick"}, lambda_context)
    assert events_of(inbox.receive()) == [("triggered", cid)]


def test_json_logs_carry_tier_and_run_id_and_metrics_are_emf(
    aws_env, monkeypatch, tmp_path, target, lambda_context, capsys
):
    cid = unique()
    app = handler_for(aws_env, monkeypatch, tmp_path, [(cid, target.url)])
    # The Powertools handler keeps the stream of the first cold start in this process.
    logs_out = io.StringIO()
    monkeypatch.setattr(app.logger.registered_handler, "stream", logs_out)
    capsys.readouterr()
    summary = app.handler({"tier": "quick"}, lambda_context)
    out = capsys.readouterr().out + logs_out.getvalue()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    logs = [line for line in lines if "level" in line]
    emf = [line for line in lines if "_aws" in line]
    finished = next(line for line in logs if line["message"] == "run finished")
    assert finished["tier"] == "quick" and finished["run_id"] == summary["run_id"]
    assert finished["function_request_id"] == lambda_context.aws_request_id
    assert all(line["tier"] == "quick" for line in logs)
    names = {
        m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]
    }
    assert {"Heartbeat", "TierDuration", "CheckUp", "CheckLatency"} <= names
    per_check = next(doc for doc in emf if doc.get("check_id") == cid)
    assert per_check["CheckUp"] == [1.0] and per_check["tier"] == "quick"
    per_tier = next(doc for doc in emf if "Heartbeat" in doc)
    assert per_tier["Heartbeat"] == [1.0] and per_tier["TierDuration"] == [summary["duration_ms"]]


@pytest.mark.parametrize("checks", [6, 30])
def test_aws_calls_of_one_run(checks, aws_env, monkeypatch, tmp_path, target, lambda_context):
    """What one run of N checks costs in AWS calls: the engine's own (asserted), and the
    after-run hooks' (status page, reports, SLO; printed, as they belong to those features)."""
    ids = [unique() for _ in range(checks)]
    app = handler_for(
        aws_env, monkeypatch, tmp_path, [(i, target.url) for i in ids], failure_threshold=1
    )
    phase = ["run"]
    calls: dict[str, Counter[str]] = {"run": Counter(), "hooks": Counter()}

    def count(model, **kw):
        calls[phase[0]].update([f"{model.service_model.service_name}.{model.name}"])

    for store in (
        app.RUN_TIER.runtime.ports.results,
        app.RUN_TIER.runtime.ports.states,
        app.RUN_TIER.runtime.ports.notifiers[0],
    ):
        store.client.meta.events.register("before-call", count)

    def switch(label):
        def hook(run):
            phase[0] = label

        return hook

    app.RUN_TIER.runtime.ports.after_run.insert(0, switch("hooks"))
    app.RUN_TIER.runtime.ports.after_run.append(switch("run"))

    def one_run():
        for counter in calls.values():
            counter.clear()
        app.handler({"tier": "quick"}, lambda_context)
        return {k: dict(v) for k, v in calls.items()}

    target.status = 500
    first = one_run()  # every check fails, so every check alerts
    steady = one_run()  # still down: nothing to say
    print(
        f"\nAWS calls, {checks} checks, alerting run: {first}\n"
        f"AWS calls, {checks} checks, steady run:   {steady}"
    )
    # States are saved 100 per TransactWriteItems (StateStore.save_many): the claim, and on an
    # alerting run a second batch that takes the delivered events out of the outbox. The run
    # summary is one PutItem, written after delivery so that it counts what went out.
    claims = math.ceil(checks / 100)
    assert steady["run"] == {
        "dynamodb.BatchGetItem": 1,
        "dynamodb.TransactWriteItems": claims,
        "dynamodb.BatchWriteItem": math.ceil(checks / 25),
        "dynamodb.PutItem": 1,
        "s3.PutObject": 2,
    }
    assert first["run"] == {
        **steady["run"],
        "dynamodb.TransactWriteItems": 2 * claims,
        "sns.Publish": checks,
    }


def test_cold_start_builds_once_and_warm_runs_reuse_it(
    aws_env, monkeypatch, tmp_path, target, lambda_context
):
    app = handler_for(aws_env, monkeypatch, tmp_path, [(unique(), target.url)])
    backend, session = app.RUN_TIER.runtime.ports, app.RUN_TIER.runtime.session
    app.handler({"tier": "quick"}, lambda_context)
    app.handler({"tier": "quick"}, lambda_context)
    assert app.RUN_TIER.runtime.ports is backend and app.RUN_TIER.runtime.session is session
