"""The stack template.yaml creates in moto: what is there, and what moto left out."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.fakes.moto_server import MOTO_GAPS, bucket_policy


def test_the_stack_creates_storage_alerts_queues_and_functions(stack, moto_server):
    # Given the stack of template.yaml created with CloudFormation (in moto)
    out = stack.outputs
    # Then the bucket is encrypted, private, with its lifecycle (the last two applied by
    # fill_gaps: moto's CloudFormation ignores them)
    s3 = moto_server.client("s3")
    bucket = out["ResultsBucket"]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    results = next(r for r in rules if r["Filter"].get("Prefix") == "results/")
    assert results["Transitions"][0] == {"Days": 30, "StorageClass": "STANDARD_IA"}
    assert results["Expiration"]["Days"] == 400
    # and the table is on demand, with TTL on expires_at and point-in-time recovery
    dynamodb = moto_server.client("dynamodb")
    table = dynamodb.describe_table(TableName=out["HistoryTable"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=out["HistoryTable"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = dynamodb.describe_continuous_backups(TableName=out["HistoryTable"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    # and the topic, both failure queues, and log groups with a retention
    assert moto_server.client("sns").get_topic_attributes(TopicArn=out["AlertTopicArn"])
    sqs = moto_server.client("sqs")
    assert {u.rsplit("/", 1)[-1].rsplit("-", 1)[0] for u in sqs.list_queues()["QueueUrls"]} >= {
        "healthwatch-DeadLetterQueue",
        "healthwatch-ChatFailureQueue",
    }
    groups = moto_server.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")
    assert len(groups["logGroups"]) == 4
    assert all(g["retentionInDays"] == 30 for g in groups["logGroups"])
    # and a function per tier with its own timeout, and the chat function
    lam = moto_server.client("lambda")
    timeouts = {}
    for output in (
        "RunQuickFunction",
        "RunIntegrationsFunction",
        "RunComprehensiveFunction",
        "ChatFanoutFunction",
    ):
        config = lam.get_function_configuration(FunctionName=out[output])
        assert config["Runtime"] == "python3.11" and config["Handler"] == "app.handler"
        timeouts[output] = config["Timeout"]
        assert config["Environment"]["Variables"]["HISTORY_TABLE"] == out["HistoryTable"]
    assert timeouts == {
        "RunQuickFunction": 300,
        "RunIntegrationsFunction": 300,
        "RunComprehensiveFunction": 600,
        "ChatFanoutFunction": 60,
    }
    # and the layer (moto drops it from the functions: MOTO_GAPS["Layers"])
    layers = lam.list_layers()["Layers"]
    assert any("HealthwatchLayer" in layer["LayerName"] for layer in layers)
    assert "Layers" in MOTO_GAPS


def test_what_moto_leaves_out_is_listed(stack):
    # Every resource of the translated template is in the stack, or left out for a reason
    # MOTO_GAPS gives (the conditional email subscription: no AlertEmail here).
    created = set(stack.resources)
    for logical_id, resource in stack.template["Resources"].items():
        if logical_id not in created:
            assert resource["Type"] in MOTO_GAPS, f"{logical_id} ({resource['Type']}) missing"
    assert "RunQuickFunctionSchedule" in stack.left_out


def test_the_bucket_policy_refuses_plain_http(stack, moto_server):
    # moto enforces the template's TLS-only statement; its endpoint is plain HTTP, so the
    # stack's own bucket goes without it (MOTO_GAPS) and a scratch bucket shows it works.
    s3 = moto_server.client("s3")
    scratch = f"tls-only-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=scratch)
    s3.put_object(Bucket=scratch, Key="before", Body=b"ok")
    s3.put_bucket_policy(Bucket=scratch, Policy=json.dumps(bucket_policy(stack, scratch)))
    with pytest.raises(ClientError, match="Forbidden|AccessDenied"):
        s3.put_object(Bucket=scratch, Key="results/x.json", Body=b"{}")
