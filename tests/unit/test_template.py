"""template.yaml, offline: cfn-lint on the SAM and the translated template, and what it deploys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.moto_server import lint, load_template, translate

TIERS = {
    "quick": ("RunQuickFunction", "rate(15 minutes)"),
    "integrations": ("RunIntegrationsFunction", "rate(1 hour)"),
    "comprehensive": ("RunComprehensiveFunction", "rate(6 hours)"),
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def cfn(sam) -> dict[str, Any]:
    return translate(sam)


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every policy statement a function role gets: inline and attached managed policies."""
    props = template["Resources"][role]["Properties"]
    out = [s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for arn in props.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn:
            out += template["Resources"][arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
    return out


def test_sam_template_lints_clean():
    from tests.fakes.moto_server import TEMPLATE

    assert lint(TEMPLATE.read_text(encoding="utf-8")) == []


def test_translated_template_lints_clean(cfn):
    assert lint(cfn) == []


def test_one_schedule_per_tier_with_its_input_retries_and_dead_letter_queue(cfn):
    schedules = of_type(cfn, "AWS::Scheduler::Schedule")
    assert len(schedules) == 3
    for tier, (function, default) in TIERS.items():
        target = schedules[f"{function}Schedule"]["Properties"]["Target"]
        assert json.loads(target["Input"]) == {"tier": tier}
        assert target["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
        parameter = schedules[f"{function}Schedule"]["Properties"]["ScheduleExpression"]["Ref"]
        assert cfn["Parameters"][parameter]["Default"] == default


def test_launch_day_is_one_parameter(sam):
    launch = translate(sam, {"QuickSchedule": "rate(5 minutes)"})
    assert launch["Resources"]["RunQuickFunctionSchedule"]["Properties"]["ScheduleExpression"] == {
        "Ref": "QuickSchedule"
    }
    assert lint(launch) == []


def test_functions_runtime_architecture_layer_and_timeouts(sam, cfn):
    layer = sam["Resources"]["HealthwatchLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/healthwatch/"
    assert layer["Metadata"]["BuildMethod"] == "python3.11"
    functions = of_type(cfn, "AWS::Lambda::Function")
    assert set(functions) == {f for f, _ in TIERS.values()} | {"ChatFanoutFunction"}
    timeouts = set()
    for name, fn in functions.items():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.11" and props["Architectures"] == ["arm64"]
        assert props["Handler"] == "app.handler"
        assert len(props["Layers"]) == 1
        env = props["Environment"]["Variables"]
        assert {
            "RESULTS_BUCKET",
            "HISTORY_TABLE",
            "ALERT_TOPIC_ARN",
            "CHECKS_CONFIG",
            "HISTORY_DAYS",
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_METRICS_NAMESPACE",
        } <= set(env)
        timeouts.add(json.dumps(props["Timeout"]))
    assert len(timeouts) == 4  # one per tier, and the chat function's own
    for tier, (function, _) in TIERS.items():
        env = functions[function]["Properties"]["Environment"]["Variables"]
        assert env["HEALTHWATCH_TIERS"] == tier


def test_failed_runs_and_undelivered_chat_alerts_land_in_queues(cfn):
    configs = of_type(cfn, "AWS::Lambda::EventInvokeConfig")
    for function, _ in TIERS.values():
        props = configs[f"{function}EventInvokeConfig"]["Properties"]
        assert props["MaximumRetryAttempts"] == 0  # the next scheduled run retries
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
        }
    chat = configs["ChatFanoutFunctionEventInvokeConfig"]["Properties"]
    assert chat["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["ChatFailureQueue", "Arn"]
    }
    subscription = cfn["Resources"]["ChatFanoutFunctionAlerts"]["Properties"]
    assert subscription["Protocol"] == "lambda" and subscription["TopicArn"] == {
        "Ref": "AlertTopic"
    }


def test_bucket_is_private_encrypted_tls_only_with_lifecycle(cfn):
    props = cfn["Resources"]["ResultsBucket"]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    rule = next(
        r for r in props["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "results/"
    )
    assert rule["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]
    assert rule["ExpirationInDays"] == {"Ref": "ResultRetentionDays"}
    policy = cfn["Resources"]["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert policy[0]["Effect"] == "Deny"
    assert policy[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_table_on_demand_ttl_and_point_in_time_recovery(cfn):
    props = cfn["Resources"]["HistoryTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["pk", "sk"]


def test_email_subscription_only_when_an_address_is_given(cfn):
    email = cfn["Resources"]["AlertEmailSubscription"]
    assert email["Condition"] == "HasAlertEmail"
    assert email["Properties"]["Protocol"] == "email"
    assert cfn["Conditions"]["HasAlertEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]
    }


def test_log_groups_have_a_retention(cfn):
    groups = of_type(cfn, "AWS::Logs::LogGroup")
    assert len(groups) == 4
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_outputs(cfn):
    assert {
        "ResultsBucket",
        "HistoryTable",
        "AlertTopicArn",
        "RunQuickFunction",
        "RunIntegrationsFunction",
        "RunComprehensiveFunction",
        "ChatFanoutFunction",
    } <= set(cfn["Outputs"])


def test_run_functions_get_least_privilege(cfn):
    for function, _ in TIERS.values():
        granted = statements(cfn, f"{function}Role")
        actions = {
            a
            for s in granted
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert not any(a.endswith("*") for a in actions), actions
        writes = next(s for s in granted if s["Action"] == "s3:PutObject")
        prefixes = {r["Fn::Sub"].split("/", 1)[1] for r in writes["Resource"]}
        assert prefixes == {"results/*", "latest/*", "status/*", "reports/*"}
        publish = next(s for s in granted if s["Action"] == "sns:Publish")
        assert publish["Resource"] == {"Ref": "AlertTopic"}
        secrets = next(s for s in granted if s["Action"] == "secretsmanager:GetSecretValue")
        assert secrets["Resource"]["Fn::Sub"].endswith(":secret:${SecretPrefix}*")
        for s in granted:  # a wildcard resource only with a condition that narrows it
            if s.get("Resource") == "*":
                assert (
                    s["Action"] == "kms:Decrypt"
                    and "kms:ViaService" in s["Condition"]["StringEquals"]
                )


def test_chat_function_cannot_write_or_publish(cfn):
    """It writes only its own record of deliveries (the idempotency table)."""
    granted = statements(cfn, "ChatFanoutFunctionRole")
    actions = {
        a for s in granted for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not any(a.startswith(("sns:", "s3:Put")) for a in actions)
    for s in granted:
        acts = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        if any(a.startswith("dynamodb:") for a in acts):
            assert s["Resource"] == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}


def test_xray_only_when_tracing_is_on(sam, cfn):
    role = cfn["Resources"]["RunQuickFunctionRole"]["Properties"]["ManagedPolicyArns"]
    assert not any("Xray" in str(arn) for arn in role)
    traced = translate(sam, {"Tracing": "Active"})
    role = traced["Resources"]["RunQuickFunctionRole"]["Properties"]["ManagedPolicyArns"]
    assert any("Xray" in str(arn) for arn in role)
    assert traced["Resources"]["RunQuickFunction"]["Properties"]["TracingConfig"] == {
        "Mode": {"Ref": "Tracing"}
    }


def test_every_checkov_suppression_says_why():
    """`make lint` runs checkov clean; what it suppresses carries its reason in one line."""
    template = load_template()
    skips = [
        (name, skip)
        for name, resource in template["Resources"].items()
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
    ]
    assert len(skips) >= 20
    for name, skip in skips:
        assert skip["id"].startswith("CKV_"), (name, skip)
        comment = skip.get("comment") or ""
        assert len(comment) > 40 and "\n" not in comment, (name, skip)


def test_the_probe_template_lints_clean_as_sam_and_translated():
    from tests.fakes.moto_server import PROBE_TEMPLATE

    assert lint(PROBE_TEMPLATE.read_text(encoding="utf-8")) == []
    assert lint(translate(load_template(PROBE_TEMPLATE))) == []


def test_the_run_functions_may_invoke_their_shards_and_the_probe_regions_only(cfn):
    for function, _ in TIERS.values():
        role = cfn["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
        invoking = [s for s in statements(cfn, role) if "lambda:InvokeFunction" in str(s["Action"])]
        assert len(invoking) == 1
        [statement] = invoking
        resources = [r["Fn::Sub"] for r in statement["Resource"]]
        # Its own stack's run functions, in its own region (the shards of a split tier)
        assert any(
            "${AWS::Region}" in r and r.endswith(":function:${AWS::StackName}-Run*")
            for r in resources
        )
        # and the probe function by its name in any region of the account, nothing else
        assert any(
            r.endswith(":lambda:*:${AWS::AccountId}:function:${ProbeFunctionName}")
            for r in resources
        )
        assert len(resources) == 2


def test_the_probe_function_is_named_as_the_config_expects(sam):
    from healthwatch.config.schema import DEFAULT_PROBE_FUNCTION

    from tests.fakes.moto_server import PROBE_TEMPLATE

    probe = load_template(PROBE_TEMPLATE)
    assert probe["Parameters"]["ProbeFunctionName"]["Default"] == DEFAULT_PROBE_FUNCTION
    assert sam["Parameters"]["ProbeFunctionName"]["Default"] == DEFAULT_PROBE_FUNCTION
    fn = probe["Resources"]["ProbeFunction"]["Properties"]
    assert fn["FunctionName"] == {"Ref": "ProbeFunctionName"}
    assert fn["CodeUri"] == "functions/probe/" and fn["Handler"] == "app.handler"
