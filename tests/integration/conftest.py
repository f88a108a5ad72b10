"""AWS fixtures: one moto server per test session, the stack of template.yaml created in it,
and the handlers imported from their files as Lambda would (fresh module = cold start)."""

from __future__ import annotations

import importlib.util
import json
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.fakes.moto_server import ROOT, MotoServer
from tests.fakes.server import FakeServer, Response


def load_handler(relative: str) -> ModuleType:
    """Import a handler from its file under a fresh name: its module scope runs again, as
    in a new Lambda container."""
    path = ROOT / relative
    name = f"handler_{path.parent.name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    """What Powertools reads from the Lambda context."""

    function_name: str = "healthwatch-RunQuickFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:healthwatch-RunQuickFunction"
    )
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/healthwatch-RunQuickFunction"
    log_stream_name: str = "2026/11/26/[$LATEST]0000"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(aws_request_id=str(uuid.uuid4()))


def event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))
    return data


class Target:
    """A /health endpoint on 127.0.0.1 whose answer a test switches between up and down."""

    def __init__(self) -> None:
        self.status = 200
        self.delay = 0.0
        self.server = FakeServer(fallback=self._answer)

    def _answer(self, request: Any) -> Response:
        body = {"status": "ok" if self.status == 200 else "error"}
        return Response(self.status, body, delay=self.delay)

    @property
    def url(self) -> str:
        return f"{self.server.url}/health"


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    t.server.start()
    yield t
    t.server.stop()


def write_config(
    directory: Path,
    checks: list[tuple[str, str]],
    *,
    failure_threshold: int = 3,
    retry_interval: str = "0",
    reminder_interval: str = "0",
    notifications: str = "",
) -> Path:
    """A config of one tier `quick` (plus the others of the template), given (id, url) checks."""
    entries = "\n".join(
        f"""
  - id: {cid}
    name: Service {cid}
    tier: quick
    type: http
    url: {url}
    conditions: ["[STATUS] == 200"]"""
        for cid, url in checks
    )
    text = textwrap.dedent(
        f"""\
        version: 1
        defaults:
          timeout: 2s
          failure_threshold: {failure_threshold}
          retry_interval: {retry_interval}
          success_threshold: 1
          reminder_interval: {reminder_interval}
        tiers:
          quick: {{schedule: rate(15 minutes), deadline: 20s}}
          integrations: {{schedule: rate(1 hour), deadline: 20s}}
          comprehensive: {{schedule: rate(6 hours), deadline: 20s}}
        """
    )
    text += "checks:" + entries + "\n" + notifications
    path = directory / f"checks-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def unique(prefix: str = "svc") -> str:
    """A check id no other test uses: tests share one table."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Subscription:
    """An SQS queue subscribed to the alert topic: what a subscriber receives."""

    def __init__(self, server: MotoServer, topic_arn: str, filter_policy: dict | None = None):
        self.sqs = server.client("sqs")
        name = f"alerts-{uuid.uuid4().hex[:8]}"
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
        server.client("sns").subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes
        )

    def receive(self) -> list[dict[str, Any]]:
        """Every SNS notification in the queue so far (the SNS envelope, parsed)."""
        out = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def events_of(notifications: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(event, check_id) of each alert event received."""
    out = []
    for n in notifications:
        alert = json.loads(n["Message"])
        out.append((alert["event"], alert["check_id"]))
    return out
