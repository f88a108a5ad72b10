"""Nothing lost, nothing twice: the run-tier function against real faults.

boto3 reaches moto through a fault-injecting proxy on 127.0.0.1 (tests/fakes/fault_proxy.py),
which answers as a throttled or failing AWS does, drops or cuts connections; one scenario
kills the handler's process with SIGKILL between the claim and the publish. Each scenario
runs the same four checks (all down, one alert each) for three runs, with the fault in the
first, and counts what reached S3, DynamoDB and an SQS queue subscribed to the topic.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from healthwatch.errors import RunError

from tests.fakes.fault_proxy import FaultProxy, Rule, wait_until
from tests.integration.conftest import (
    Subscription,
    load_handler,
    unique,
    write_config,
)

RUN_TIER = "functions/run_tier/app.py"
CHECKS = 4
RUNS = 3
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Tally:
    s3: int
    dynamodb: int
    alerts: int  # notifications at the SQS subscriber
    distinct: int  # distinct event ids among them

    @property
    def duplicates(self) -> int:
        return self.alerts - self.distinct


@pytest.fixture
def world(aws_env, moto_server, stack, monkeypatch, tmp_path, target):
    """Four failing checks, a topic subscription, boto3 going through the proxy."""
    target.status = 500
    ids = [unique("f") for _ in range(CHECKS)]
    config = write_config(tmp_path, [(i, target.url) for i in ids], failure_threshold=1)
    monkeypatch.setenv("CHECKS_CONFIG", str(config))
    inbox = Subscription(moto_server, stack.outputs["AlertTopicArn"])
    with FaultProxy(moto_server.url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        yield World(ids, inbox, proxy, moto_server, stack, config)


@dataclass
class World:
    ids: list[str]
    inbox: Subscription
    proxy: FaultProxy
    moto: object
    stack: object
    config: Path

    def handler(self):
        return load_handler(RUN_TIER)

    def tally(self) -> Tally:
        s3 = self.moto.client("s3")  # type: ignore[attr-defined]
        bucket = self.stack.outputs["ResultsBucket"]  # type: ignore[attr-defined]
        stored = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/"):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
                stored += sum(
                    1 for line in body.splitlines() if json.loads(line)["check_id"] in self.ids
                )
        table = self.stack.outputs["HistoryTable"]  # type: ignore[attr-defined]
        dynamo = self.moto.client("dynamodb")  # type: ignore[attr-defined]
        history = 0
        for cid in self.ids:
            got = dynamo.query(
                TableName=table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
                ExpressionAttributeValues={":pk": {"S": f"check#{cid}"}, ":r": {"S": "result#"}},
            )
            history += got["Count"]
        ids = [json.loads(n["Message"])["id"] for n in self.inbox.receive()]
        return Tally(stored, history, len(ids), len(set(ids)))


def runs(world: World, lambda_context, n: int = RUNS, first_fault=None) -> list[str]:
    """`n` runs, each a cold start; `first_fault` rules apply to the first. Returns problems."""
    problems: list[str] = []
    for i in range(n):
        if i == 0 and first_fault:
            world.proxy.add(*first_fault)
        try:
            world.handler().handler({"tier": "quick"}, lambda_context)
        except RunError as exc:
            problems += exc.problems
        world.proxy.clear()
    return problems


SCENARIOS = {
    # name: (rules for the first run, results expected in S3, in DynamoDB)
    "s3 down": (
        [Rule("s3", "PutObject", "error", code="SlowDown")],
        CHECKS * (RUNS - 1),
        CHECKS * RUNS,
    ),
    "dynamodb down": (
        [Rule("dynamodb", "*", "error", code="InternalServerError")],
        CHECKS * RUNS,
        CHECKS * (RUNS - 1),
    ),
    "sns down": (
        [Rule("sns", "Publish", "error", code="Throttling")],
        CHECKS * RUNS,
        CHECKS * RUNS,
    ),
    "throttling everywhere": (
        [
            Rule("dynamodb", "*", "error", times=2, code="ProvisionedThroughputExceededException"),
            Rule("s3", "PutObject", "error", times=1, code="SlowDown"),
            Rule("sns", "Publish", "error", times=2, code="Throttling"),
        ],
        CHECKS * RUNS,
        CHECKS * RUNS,
    ),
    "batch writes unprocessed": (
        [Rule("dynamodb", "BatchWriteItem", "unprocessed", times=2)],
        CHECKS * RUNS,
        CHECKS * RUNS,
    ),
    "connections dropped": (
        [
            Rule("dynamodb", "TransactWriteItems", "drop", times=1),
            Rule("sns", "Publish", "drop", times=1),
        ],
        CHECKS * RUNS,
        CHECKS * RUNS,
    ),
    "stops answering": (
        [
            Rule("sns", "Publish", "hold", times=1, hold_s=8),
            Rule("s3", "PutObject", "hold", times=1, hold_s=8),
        ],
        CHECKS * RUNS,
        CHECKS * RUNS,
    ),
    "cut after commit": (
        [
            Rule("dynamodb", "TransactWriteItems", "cut_after_commit", times=1),
        ],
        CHECKS * RUNS,
        CHECKS * RUNS,
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_fault_loses_nothing_and_repeats_nothing(name, world, lambda_context, capsys):
    rules, in_s3, in_dynamo = SCENARIOS[name]
    problems = runs(world, lambda_context, first_fault=rules)
    tally = world.tally()
    with capsys.disabled():
        print(
            f"\n[delivery] {name}: results S3 {tally.s3}/{in_s3}, DynamoDB {tally.dynamodb}/"
            f"{in_dynamo}; alerts {tally.distinct}/{CHECKS}, duplicates {tally.duplicates}"
        )
    assert (tally.s3, tally.dynamodb) == (in_s3, in_dynamo)
    assert tally.distinct == CHECKS and tally.duplicates == 0
    if name in ("s3 down", "dynamodb down", "sns down"):
        assert problems  # the faulty run failed visibly


def test_a_replayed_invocation_sends_no_alert_twice(world, lambda_context):
    app = world.handler()
    app.handler({"tier": "quick"}, lambda_context)
    app.handler({"tier": "quick"}, lambda_context)  # Lambda's retry: the same event again
    world.handler().handler({"tier": "quick"}, lambda_context)
    tally = world.tally()
    assert tally.distinct == CHECKS and tally.duplicates == 0
    assert tally.s3 == tally.dynamodb == CHECKS * 3  # each invocation is a run of its own


def test_sigkill_between_claim_and_publish_loses_nothing(world, lambda_context, tmp_path):
    # Given a run whose claim is committed and whose first publish is held by the proxy
    world.proxy.add(Rule("sns", "Publish", "hold", hold_s=60))
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(ROOT)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: world.proxy.faulted["sns.Publish:hold"] >= 1, 60)
        # When the process is killed there, before any alert went out
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    world.proxy.clear()
    assert world.tally().alerts == 0
    # Then once its lease has lapsed (what it had left to deliver, 27 s, and a 5 s margin),
    # the next run delivers every claimed alert, once
    time.sleep(33)
    problems = runs(world, lambda_context, n=2)
    tally = world.tally()
    print(f"\n[delivery] sigkill: alerts {tally.distinct}/{CHECKS}, duplicates {tally.duplicates}")
    assert tally.distinct == CHECKS and tally.duplicates == 0, problems


KILLED_RUN = textwrap.dedent(
    """
    import importlib.util, sys, uuid
    spec = importlib.util.spec_from_file_location(
        f"killed_{uuid.uuid4().hex[:6]}", sys.argv[1] + "/functions/run_tier/app.py"
    )
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)

    class Context:
        function_name = "healthwatch-RunQuickFunction"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:x"
        aws_request_id = "killed"
        def get_remaining_time_in_millis(self):
            return 42_000  # 27 s to deliver after the tail's 15 s

    app.handler({"tier": "quick"}, Context())
    """
)


def test_counts_include_every_delivered_event(world, lambda_context):
    world.proxy.add(Rule("sns", "Publish", "error", code="Throttling"))
    with pytest.raises(RunError):
        world.handler().handler({"tier": "quick"}, lambda_context)
    world.proxy.clear()
    summary = world.handler().handler({"tier": "quick"}, lambda_context)
    # The second run delivered the first run's alerts: its summary and latest/ say so
    assert summary["alerts"] == CHECKS and summary["undelivered"] == 0
    s3 = world.moto.client("s3")  # type: ignore[attr-defined]
    latest = json.loads(
        s3.get_object(Bucket=world.stack.outputs["ResultsBucket"], Key="latest/quick.json")[  # type: ignore[attr-defined]
            "Body"
        ].read()
    )
    assert latest["alerts"] == CHECKS and latest["run_id"] == summary["run_id"]
    assert (
        Counter(json.loads(n["Message"])["id"] for n in world.inbox.receive()).most_common(1)[0][1]
        == 1
    )
