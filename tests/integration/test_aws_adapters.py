"""The AWS adapters against moto: DynamoDB batches and pages, SNS messages, settings, secrets."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from healthwatch.errors import ConfigError, DeliveryError, StoreError
from healthwatch.models import AlertEvent, AlertState, TierRun
from healthwatch.notify.sns import MESSAGE_LIMIT, SnsNotifier, publish_request
from healthwatch.storage.dynamodb import DynamoStore

from tests.helpers import result

T0 = datetime(2026, 11, 26, 20, 45, tzinfo=UTC)


def make_table(moto_server, stack) -> str:
    """A fresh table with the key schema and TTL of template.yaml's HistoryTable."""
    props = stack.template["Resources"]["HistoryTable"]["Properties"]
    name = f"history-{uuid.uuid4().hex[:8]}"
    client = moto_server.client("dynamodb")
    client.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props["BillingMode"],
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"]
    )
    return name


def counted(client) -> Counter[str]:
    calls: Counter[str] = Counter()
    client.meta.events.register("before-call", lambda model, **kw: calls.update([model.name]))
    return calls


def run_of(n: int, at: datetime = T0, tier: str = "quick") -> TierRun:
    results = [
        result(
            f"c{i:03d}",
            "down" if i % 3 == 0 else "up",
            at=at,
            tier=tier,
            error="timeout: x" if i % 3 == 0 else None,
        )
        for i in range(n)
    ]
    for r in results:
        r.latency_ms = 100.25 + r.latency_ms
        r.http_status = 200
        r.details = {"ratio": 0.5, "nested": {"list": [1, 2.5, "x"]}}
    return TierRun(f"{tier}-2026-11-26T20-45-00Z-ab12", tier, results[0].started_at, 12.5, results)


# -- DynamoDB ----------------------------------------------------------------------------------


def test_results_are_written_25_per_batch_and_read_back_exactly(aws_env, moto_server, stack):
    client = moto_server.client("dynamodb")
    store = DynamoStore(client, make_table(moto_server, stack))
    calls = counted(client)
    run = run_of(60)
    store.put_results(run)
    assert calls["BatchWriteItem"] == 3  # 60 results = 25 + 25 + 10
    store.put_summary(run)  # after delivery, so it counts what went out
    assert calls["PutItem"] == 1
    records = list(store.query_all(T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)))
    assert len(records) == 60
    assert records[0] == run.results[0]  # floats, ints, nested details intact
    (summary,) = store.runs("quick", T0 - timedelta(minutes=1))
    assert summary["checks"] == 60 and summary["down"] == 20 and summary["duration_ms"] == 12.5


def test_unprocessed_items_are_retried_until_written(aws_env, moto_server, stack):
    real = moto_server.client("dynamodb")

    class Throttled:
        """Takes the first 10 items of each of the first two batches, like DynamoDB under load."""

        def __init__(self) -> None:
            self.refusals = 2

        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            ((table, items),) = RequestItems.items()
            if self.refusals and len(items) > 10:
                self.refusals -= 1
                real.batch_write_item(RequestItems={table: items[:10]})
                return {"UnprocessedItems": {table: items[10:]}}
            return real.batch_write_item(RequestItems=RequestItems)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    waits: list[float] = []
    store = DynamoStore(Throttled(), make_table(moto_server, stack), sleep=waits.append)
    store.put_results(run_of(30))
    assert len(waits) == 2
    assert len(list(store.query_all(T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)))) == 30


def test_items_never_processed_raise_after_the_last_attempt(aws_env, moto_server, stack):
    class Refusing:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"UnprocessedItems": RequestItems}

    store = DynamoStore(Refusing(), "t", sleep=lambda s: None, max_attempts=3)
    with pytest.raises(StoreError, match="unprocessed after 3 attempts"):
        store.put_results(run_of(3))


def test_unprocessed_keys_are_read_again(aws_env, moto_server, stack):
    real = moto_server.client("dynamodb")
    table = make_table(moto_server, stack)
    writer = DynamoStore(real, table)
    for cid in ("a", "b", "c"):
        writer.save(AlertState(check_id=cid, consecutive_failures=2))

    class Partial:
        def __init__(self) -> None:
            self.calls = 0

        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            self.calls += 1
            ((name, request),) = RequestItems.items()
            if self.calls == 1:
                first = real.batch_get_item(
                    RequestItems={name: {**request, "Keys": request["Keys"][:1]}}
                )
                return {
                    **first,
                    "UnprocessedKeys": {name: {**request, "Keys": request["Keys"][1:]}},
                }
            return real.batch_get_item(RequestItems=RequestItems)

    partial = Partial()
    states = DynamoStore(partial, table, sleep=lambda s: None).load(["a", "b", "c", "d", "a"])
    assert partial.calls == 2
    assert [states[c].version for c in "abcd"] == [1, 1, 1, 0]
    assert states["b"].consecutive_failures == 2


def test_states_load_in_batches_of_100(aws_env, moto_server, stack):
    client = moto_server.client("dynamodb")
    store = DynamoStore(client, make_table(moto_server, stack))
    calls = counted(client)
    states = store.load([f"c{i}" for i in range(230)])
    assert len(states) == 230 and calls["BatchGetItem"] == 3


def test_history_queries_follow_every_page(aws_env, moto_server, stack):
    client = moto_server.client("dynamodb")
    store = DynamoStore(client, make_table(moto_server, stack), page_size=2)
    for i in range(5):
        run = run_of(1, at=T0 + timedelta(minutes=15 * i))
        store.put_results(run)
    calls = counted(client)
    got = store.query("c000", T0, T0 + timedelta(hours=2))
    assert [r.started_at for r in got] == [
        (T0 + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z") for i in range(5)
    ]
    assert calls["Query"] == 3


def test_a_state_write_is_conditional_on_its_version(aws_env, moto_server, stack):
    client = moto_server.client("dynamodb")
    table = make_table(moto_server, stack)
    store = DynamoStore(client, table)
    saved = store.save(AlertState(check_id="a", incident_open=True, probe_memory={"x": 1.5}))
    item = client.get_item(TableName=table, Key={"pk": {"S": "check#a"}, "sk": {"S": "state"}})[
        "Item"
    ]
    assert item["version"] == {"N": "1"} and item["incident_open"] == {"BOOL": True}
    assert store.load(["a"])["a"] == saved
    from healthwatch.errors import ConflictError

    with pytest.raises(ConflictError):
        store.save(AlertState(check_id="a"))  # version 0: someone else wrote it first


def test_many_states_save_in_one_transaction_and_a_lost_race_is_a_conflict(
    aws_env, moto_server, stack
):
    from healthwatch.errors import ConflictError

    client = moto_server.client("dynamodb")
    store = DynamoStore(client, make_table(moto_server, stack))
    first = store.save(AlertState(check_id="b"))  # b is at version 1 now
    calls = counted(client)
    # Given states of a, b, c, where the one of b is stale (another run saved b first)
    out = store.save_many(
        [AlertState(check_id="a"), AlertState(check_id="b"), AlertState(check_id="c")]
    )
    # Then a and c are saved, and b is a conflict to decide again
    assert isinstance(out["b"], ConflictError)
    assert out["a"].version == 1 and out["c"].version == 1
    assert store.load(["a", "b", "c"])["b"] == first
    assert calls["TransactWriteItems"] == 2  # the cancelled one, then a and c again
    calls.clear()
    out = store.save_many([AlertState(check_id=f"x{i}") for i in range(150)])
    assert all(s.version == 1 for s in out.values()) and calls["TransactWriteItems"] == 2


# -- SNS ---------------------------------------------------------------------------------------


def alert(**changes: Any) -> AlertEvent:
    base = AlertEvent(
        event="triggered",
        check_id="agent-service",
        check_name="Agent SDK Service",
        tier="quick",
        status="down",
        started_at="2026-11-26T20:45:00.123Z",
        at="2026-11-26T20:45:01.000Z",
        error="timeout: no answer in 5s",
        result=result("agent-service", "down", at=T0, error="timeout: no answer in 5s").to_dict(),
        target="https://hotdash-agent-service.fly.dev/health",
        run_id="quick-x-ab12",
    )
    for k, v in changes.items():
        setattr(base, k, v)
    return base


def test_the_publish_request_serves_machines_and_people():
    request = publish_request(alert(check_name="A" * 200), "arn:aws:sns:us-east-1:123456789012:t")
    assert request["MessageStructure"] == "json"
    assert len(request["Subject"]) < 100 and request["Subject"].startswith("[DOWN] AAA")
    message = json.loads(request["Message"])
    assert AlertEvent.from_dict(json.loads(message["default"])).check_name == "A" * 200
    assert "What failed:" in message["email"] and "timeout: no answer in 5s" in message["email"]
    assert {k: v["StringValue"] for k, v in request["MessageAttributes"].items()} == {
        "event": "triggered",
        "severity": "critical",
        "tier": "quick",
        "check_id": "agent-service",
        "id": alert().id,  # the idempotency key, for a subscription to filter or dedupe on
    }


def test_an_oversized_event_is_trimmed_to_what_sns_takes():
    huge = alert()
    huge.result["details"] = {"body": "x" * 400_000}
    request = publish_request(huge, "arn:aws:sns:us-east-1:123456789012:t")
    assert len(request["Message"].encode()) <= MESSAGE_LIMIT
    assert json.loads(json.loads(request["Message"])["default"])["result"]["details"] == {
        "truncated": True
    }


class FlakySns:
    def __init__(self, real: Any, failures: list[str]) -> None:
        self.real, self.failures, self.calls = real, failures, 0

    def publish(self, **params: Any) -> Any:
        self.calls += 1
        if self.failures:
            code = self.failures.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": "slow down"}}, "Publish")
        return self.real.publish(**params)


def test_throttling_is_retried_then_published(aws_env, moto_server, stack):
    flaky = FlakySns(moto_server.client("sns"), ["Throttling", "Throttled"])
    waits: list[float] = []
    SnsNotifier(flaky, stack.outputs["AlertTopicArn"], attempts=4, sleep=waits.append).send(alert())
    assert flaky.calls == 3 and len(waits) == 2


def test_a_delivery_that_keeps_failing_raises(aws_env, moto_server, stack):
    flaky = FlakySns(moto_server.client("sns"), ["Throttling"] * 10)
    with pytest.raises(
        DeliveryError, match=r"triggered alert for agent-service not published \(Throttling\)"
    ):
        SnsNotifier(flaky, stack.outputs["AlertTopicArn"], attempts=4, sleep=lambda s: None).send(
            alert()
        )
    assert flaky.calls == 4
    # A refusal that will not get better is not retried.
    missing = FlakySns(moto_server.client("sns"), [])
    with pytest.raises(DeliveryError, match="NotFound"):
        SnsNotifier(missing, stack.outputs["AlertTopicArn"] + "-gone", sleep=lambda s: None).send(
            alert()
        )
    assert missing.calls == 1


# -- settings, config, secrets -----------------------------------------------------------------


def test_settings_name_every_bad_variable(aws_env, monkeypatch):
    from healthwatch.runtime.settings import settings

    with pytest.raises(ConfigError) as failure:
        settings(
            {"RESULTS_BUCKET": "Not_A_Bucket", "HISTORY_DAYS": "-1", "ALERT_TOPIC_ARN": "topic"}
        )
    text = str(failure.value)
    assert "RESULTS_BUCKET" in text and "HISTORY_DAYS" in text and "ALERT_TOPIC_ARN" in text
    env = settings({"HISTORY_TABLE": "history", "HEALTHWATCH_TIERS": "quick, integrations"})
    assert env.tiers == ("quick", "integrations") and env.history_days == 30
    with pytest.raises(ConfigError, match="RESULTS_BUCKET is not set"):
        env.require("RESULTS_BUCKET", "HISTORY_TABLE")


def test_the_stack_name_is_enough(aws_env, stack, monkeypatch):
    from healthwatch.runtime.settings import settings

    env = settings({"HEALTHWATCH_STACK": stack.name})
    assert env.results_bucket == stack.outputs["ResultsBucket"]
    assert env.history_table == stack.outputs["HistoryTable"]
    assert env.alert_topic_arn == stack.outputs["AlertTopicArn"]


def test_a_stack_that_is_not_there_is_named(aws_env):
    from healthwatch.runtime.settings import settings

    with pytest.raises(ConfigError, match="HEALTHWATCH_STACK: .*no-such-stack"):
        settings({"HEALTHWATCH_STACK": "no-such-stack"})


def test_no_region_is_a_config_error(aws_env, monkeypatch):
    from healthwatch.runtime import clients

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError, match="no AWS region"):
        clients.client("sns")


def test_the_config_can_live_in_the_bucket(aws_env, stack, moto_server, monkeypatch):
    from healthwatch.runtime.config_source import load_config_from_env
    from healthwatch.runtime.settings import settings

    from tests.fakes.moto_server import ROOT

    bucket = stack.outputs["ResultsBucket"]
    moto_server.client("s3").put_object(
        Bucket=bucket, Key="config/checks.yaml", Body=(ROOT / "checks.yaml").read_bytes()
    )
    monkeypatch.setenv("CHECKS_CONFIG", f"s3://{bucket}/config/checks.yaml")
    assert "agent-service" in [c.id for c in load_config_from_env(settings()).checks]
    monkeypatch.setenv("CHECKS_CONFIG", f"s3://{bucket}/config/missing.yaml")
    with pytest.raises(ConfigError, match="cannot read the object"):
        load_config_from_env(settings())


def test_secret_and_parameter_references_resolve_once_per_container(aws_env, moto_server):
    from healthwatch.runtime.secrets import aws_secrets

    name = f"hotdash/token-{uuid.uuid4().hex[:6]}"
    moto_server.client("secretsmanager").create_secret(Name=name, SecretString="s3cr3t-value")
    moto_server.client("ssm").put_parameter(
        Name=f"/{name}", Value="p4ram-value", Type="SecureString"
    )
    secrets = aws_secrets()
    text = f"Bearer ${{secret:{name}}} / ${{ssm:/{name}}}"
    assert secrets.resolve(text) == "Bearer s3cr3t-value / p4ram-value"
    provider = secrets._sources["secret"]._get_provider()
    calls = counted(provider.client)
    assert secrets.resolve(text) == "Bearer s3cr3t-value / p4ram-value"
    assert calls == Counter()  # cached
    assert secrets.redact("echo s3cr3t-value") == "echo ***"
    from healthwatch.errors import SecretError

    with pytest.raises(SecretError, match="could not be read"):
        secrets.resolve("${secret:hotdash/does-not-exist}")


@pytest.mark.parametrize(
    ("event", "tier"),
    [
        ({"tier": "integrations"}, "integrations"),
        (
            {
                "detail-type": "Scheduled Event",
                "detail": {},
                "resources": ["arn:aws:events:us-east-1:1:rule/healthwatch-comprehensive"],
            },
            "comprehensive",
        ),
        (
            {
                "detail-type": "Scheduled Event",
                "detail": {"tier": "quick"},
                "resources": ["arn:aws:events:us-east-1:1:rule/anything"],
            },
            "quick",
        ),
        (
            {
                "detail-type": "Scheduled Event",
                "detail": {},
                "resources": ["arn:aws:events:us-east-1:1:rule/hw_stack_quick"],
            },
            "quick",
        ),
    ],
)
def test_the_tier_of_an_event(event, tier):
    from healthwatch.runtime.lambda_support import tier_from_event

    assert tier_from_event(event, ("quick", "integrations", "comprehensive")) == tier


def test_the_slo_burn_reads_dynamodb_once_per_run_however_many_checks(aws_env, moto_server, stack):
    """One Query of the tier's rollups, not one per check: counted at a proxy before moto."""
    import boto3
    from healthwatch.alerting.dispatch import Dispatcher
    from healthwatch.alerting.slo import SloBurnAlerts
    from healthwatch.models import TierRun, iso
    from healthwatch.runtime.config_source import parse_config
    from healthwatch.secrets import Secrets

    from tests.fakes.fault_proxy import FaultProxy
    from tests.helpers import result

    ids = [f"c{i:02d}" for i in range(60)]
    config = parse_config(
        json.dumps(
            {
                "slo": {"availability": 99.0},
                "tiers": {"quick": {"schedule": "rate(15 minutes)"}},
                "checks": [{"id": i, "tier": "quick", "url": "http://x/"} for i in ids],
            }
        )
    )
    table = make_table(moto_server, stack)
    t0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with FaultProxy(moto_server.url) as proxy:
        client = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client("dynamodb", endpoint_url=proxy.url)
        store = DynamoStore(client, table, now=lambda: t0 + timedelta(hours=6))
        # Given 24 stored runs of 60 checks, c00 down in the last 4 of them
        for n in range(24):
            at = t0 + timedelta(minutes=15 * n)
            runs = [result(i, "down" if i == "c00" and n >= 20 else "up", at=at) for i in ids]
            store.put_results(TierRun(f"quick-{n}", "quick", iso(at), 1.0, runs))
        proxy.seen.clear()

        # When this run's burn is decided for all 60 checks
        at = t0 + timedelta(hours=6)
        run = TierRun("quick-now", "quick", iso(at), 1.0, [result(i, "up", at=at) for i in ids])
        hook = SloBurnAlerts(config, store, store, now=lambda: at)
        burns = hook.burns(run, at)
        hook.claim(run, Dispatcher(store, [], Secrets.local({}), lambda: at))

    # Then the history was read with one Query per burn computation, whatever N is
    assert proxy.seen["dynamodb.Query"] == 2  # burns() above, and claim()'s own
    assert burns["c00"].long == pytest.approx((4 / 25) / 0.01)
    assert burns["c01"].long == 0.0
