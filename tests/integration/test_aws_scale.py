"""Past one invocation and one region, against the stacks in moto: shards of a tier run as
separate processes through a local Invoke API server, and a second region's probe stack
(template-probe.yaml) probes with its own secrets."""

from __future__ import annotations

import ast
import json
import textwrap
from collections import Counter

import boto3
import pytest
from healthwatch.engine.shards import shard_of
from healthwatch.errors import RunError

from tests.fakes.lambda_api import PROBE_HANDLER, RUN_TIER_HANDLER, Function, LambdaApi
from tests.fakes.moto_server import PROBE_TEMPLATE, deploy_stack
from tests.fakes.server import FakeServer, Response
from tests.integration.conftest import Subscription, events_of, load_handler, unique

RUN_QUICK = "healthwatch-RunQuickFunction"


def lambda_client(url: str):
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def sharded_config(tmp_path, checks: list[tuple[str, str]], shard_size: int, extra: str = ""):
    entries = "".join(
        f"\n  - {{id: {cid}, tier: quick, url: '{url}', conditions: ['[STATUS] == 200']}}"
        for cid, url in checks
    )
    text = textwrap.dedent(
        f"""\
        defaults: {{timeout: 2s, failure_threshold: 1, retry_interval: 0, reminder_interval: 0}}
        tiers:
          quick: {{schedule: rate(15 minutes), deadline: 20s, shard_size: {shard_size}}}
          integrations: {{schedule: rate(1 hour)}}
          comprehensive: {{schedule: rate(6 hours)}}
        """
    )
    path = tmp_path / "checks.yaml"
    path.write_text(text + extra + "checks:" + entries + "\n")
    return path


def stored_results(moto_server, bucket: str, run_id: str) -> dict[str, list[str]]:
    """key -> check ids, for every result object of the run."""
    s3 = moto_server.client("s3")
    out = {}
    suffix = run_id.rsplit("-", 1)[-1]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/")
    for page in pages:
        for obj in page.get("Contents", []):
            if f"-{suffix}" in obj["Key"]:
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                out[obj["Key"]] = [json.loads(x)["check_id"] for x in body.splitlines()]
    return out


def test_a_split_tier_runs_every_shard_in_its_own_invocation(aws_env, stack, moto_server, tmp_path):
    # Given 12 checks, 3 of them down, in a tier of shard_size 4 (3 shards)
    with FakeServer() as target:
        target.route("GET", "/up", Response(200, {"status": "ok"}))
        target.route("GET", "/down", Response(503, {"status": "error"}))
        ids = [unique("shard") for _ in range(12)]
        down = set(ids[:3])
        checks = [(i, f"{target.url}/{'down' if i in down else 'up'}") for i in ids]
        config = sharded_config(tmp_path, checks, shard_size=4)
        alerts = Subscription(moto_server, stack.outputs["AlertTopicArn"])
        fn = Function(RUN_TIER_HANDLER, env={**aws_env, "CHECKS_CONFIG": str(config)})
        with LambdaApi({RUN_QUICK: fn}) as api:
            fn.env.update(AWS_LAMBDA_FUNCTION_NAME=RUN_QUICK, AWS_ENDPOINT_URL_LAMBDA=api.url)

            # When the schedule invokes the function
            answer = lambda_client(api.url).invoke(
                FunctionName=RUN_QUICK, Payload=json.dumps({"tier": "quick"}).encode()
            )
            summary = json.loads(answer["Payload"].read())
            api.wait_idle()
            calls = list(api.invocations)

    # Then shard 0 answered for its own checks and queued the two others as events
    assert "FunctionError" not in answer, summary
    assert summary["shard"] == 0 and summary["shards"] == 3
    queued = [c.event for c in calls if c.kind == "Event"]
    assert sorted(e["shard"] for e in queued) == [1, 2]
    assert all(e["shards"] == 3 and e["run_id"] == summary["run_id"] for e in queued)
    assert all(c.error is None for c in calls), [c.error for c in calls]
    # and every check's result was stored exactly once, by the shard its id hashes to
    objects = stored_results(moto_server, stack.outputs["ResultsBucket"], summary["run_id"])
    assert sorted(k.rsplit("-", 1)[-1] for k in objects) == ["0.json", "1.json", "2.json"]
    assert Counter(i for got in objects.values() for i in got) == Counter(ids)
    for key, got in objects.items():
        shard = int(key.rsplit("-", 1)[-1].split(".")[0])
        assert {shard_of(i, 3) for i in got} == {shard}
    # and one run summary per shard, none overwritten
    dynamodb = moto_server.client("dynamodb")
    items = dynamodb.query(
        TableName=stack.outputs["HistoryTable"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :run)",
        ExpressionAttributeValues={":pk": {"S": "tier#quick"}, ":run": {"S": "run#"}},
    )["Items"]
    mine = [i for i in items if i["run_id"]["S"] == summary["run_id"]]
    assert sorted(int(i["shard"]["N"]) for i in mine) == [0, 1, 2]
    assert sum(int(i["checks"]["N"]) for i in mine) == 12
    assert sum(int(i["down"]["N"]) for i in mine) == 3
    # and latest/ is kept per shard
    s3 = moto_server.client("s3")
    bucket = stack.outputs["ResultsBucket"]
    for k in range(3):
        latest = json.loads(
            s3.get_object(Bucket=bucket, Key=f"latest/quick.shard-{k}.json")["Body"].read()
        )
        assert latest["run_id"] == summary["run_id"] and latest["shard"] == k
    # and exactly one alert per down check went out
    assert sorted(events_of(alerts.receive())) == sorted(("triggered", i) for i in down)


def test_a_shard_that_cannot_be_started_fails_shard_zero_after_its_own_checks(
    aws_env, stack, moto_server, monkeypatch, tmp_path, lambda_context
):
    with FakeServer() as target, LambdaApi({}) as api:  # no function to invoke: 404
        target.route("GET", "/up", Response(200, {"status": "ok"}))
        ids = [unique("lost") for _ in range(6)]
        config = sharded_config(tmp_path, [(i, f"{target.url}/up") for i in ids], shard_size=3)
        monkeypatch.setenv("CHECKS_CONFIG", str(config))
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", RUN_QUICK)
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", api.url)
        app = load_handler("functions/run_tier/app.py")
        with pytest.raises(RunError) as failure:
            app.handler({"tier": "quick"}, lambda_context)
    # The error names the shard that did not start, and Lambda's reason
    assert "shard 1 of 2 not started" in str(failure.value)
    assert "ResourceNotFoundException" in str(failure.value)
    # and shard 0's own checks were probed and stored all the same
    run = failure.value.run
    assert run.shard == 0 and run.shards == 2
    assert {r.check_id for r in run.results} == {i for i in ids if shard_of(i, 2) == 0}
    objects = stored_results(moto_server, stack.outputs["ResultsBucket"], run.run_id)
    assert sorted(i for got in objects.values() for i in got) == sorted(
        r.check_id for r in run.results
    )


@pytest.fixture(scope="module")
def probe_stack(moto_server):
    return deploy_stack(
        moto_server, "healthwatch-probe", template_path=PROBE_TEMPLATE, region="eu-west-1"
    )


def test_the_probe_stack_creates_its_function_in_the_second_region(probe_stack, moto_server):
    eu = moto_server.client("lambda", "eu-west-1")
    config = eu.get_function_configuration(FunctionName="healthwatch-probe")
    assert config["Handler"] == "app.handler" and config["Runtime"] == "python3.11"
    assert config["Environment"]["Variables"]["CHECKS_CONFIG"] == "checks.yaml"
    assert ":eu-west-1:" in config["FunctionArn"]
    # Its role reads this region's secrets under the prefix, and nothing of the home's
    iam = moto_server.client("iam")
    role = config["Role"].rsplit("/", 1)[-1]
    documents = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    # moto's CloudFormation stores an inline policy as the repr of a dict
    documents = [ast.literal_eval(d) if isinstance(d, str) else d for d in documents]
    statements = [s for d in documents for s in d["Statement"]]
    secrets = next(s for s in statements if s["Action"] == "secretsmanager:GetSecretValue")
    assert secrets["Resource"].startswith("arn:aws:secretsmanager:eu-west-1:")
    assert secrets["Resource"].endswith(":secret:hotdash/*")
    assert not any("dynamodb" in str(s["Action"]) or "s3:" in str(s["Action"]) for s in statements)
    # and the home region has no such function (it is the probe stack's alone)
    with pytest.raises(eu.exceptions.ResourceNotFoundException):
        moto_server.client("lambda").get_function(FunctionName="healthwatch-probe")


def test_each_region_probes_with_its_own_copy_of_the_secrets(
    aws_env, stack, probe_stack, moto_server, monkeypatch, tmp_path, lambda_context
):
    # Given a secret with one value in the home region and another in eu-west-1
    name = f"hotdash/{unique('token')}"
    moto_server.client("secretsmanager").create_secret(Name=name, SecretString="home-token-1")
    moto_server.client("secretsmanager", "eu-west-1").create_secret(
        Name=name, SecretString="eu-token-2"
    )
    with FakeServer() as target:
        target.route("GET", "/up", Response(200, {"status": "ok"}))
        cid = unique("regional")
        probe = Function(PROBE_HANDLER, env={**aws_env, "AWS_REGION": "eu-west-1"})
        with LambdaApi({"healthwatch-probe": probe}, region="eu-west-1") as eu:
            regions = (
                f"regions: [us-east-1, {{name: eu-west-1, endpoint_url: '{eu.url}'}}]\nquorum: 1\n"
            )
            checks = [(cid, f"{target.url}/up")]
            config = sharded_config(tmp_path, checks, shard_size=100, extra=regions)
            text = config.read_text().replace(
                "conditions:",
                f"headers: {{Authorization: 'Bearer ${{secret:{name}}}'}}, conditions:",
            )
            config.write_text(text)
            probe.env.update(CHECKS_CONFIG=str(config), AWS_DEFAULT_REGION="eu-west-1")
            monkeypatch.setenv("CHECKS_CONFIG", str(config))
            app = load_handler("functions/run_tier/app.py")

            # When the home runs the tier
            summary = app.handler({"tier": "quick"}, lambda_context)

        seen = sorted(r.header("Authorization") for r in target.requests_to("/up"))
    # Then each region sent its own region's secret
    assert seen == ["Bearer eu-token-2", "Bearer home-token-1"]
    # and the stored record has both regions' views, and neither secret
    objects = stored_results(moto_server, stack.outputs["ResultsBucket"], summary["run_id"])
    s3 = moto_server.client("s3")
    [key] = objects
    body = s3.get_object(Bucket=stack.outputs["ResultsBucket"], Key=key)["Body"].read().decode()
    assert "home-token-1" not in body and "eu-token-2" not in body
    record = json.loads(body.splitlines()[0])
    assert record["status"] == "up"
    assert {n: v["status"] for n, v in record["details"]["regions"].items()} == {
        "us-east-1": "up",
        "eu-west-1": "up",
    }


def test_a_home_function_in_another_region_than_the_first_fails_its_cold_start(
    aws_env, monkeypatch, tmp_path
):
    from healthwatch.errors import ConfigError

    regions = "regions: [eu-west-1, us-east-1]\nquorum: 1\n"
    config = sharded_config(tmp_path, [(unique(), "http://127.0.0.1:9/")], 10, extra=regions)
    monkeypatch.setenv("CHECKS_CONFIG", str(config))
    with pytest.raises(
        ConfigError, match=r"home region is 'eu-west-1' but this function runs in 'us-east-1'"
    ):
        load_handler("functions/run_tier/app.py")
