"""The notifier contract over SNS: a topic in a moto server, read back from an SQS
subscription, as a subscriber of the deployed topic would receive it."""

from __future__ import annotations

import json
import uuid

import pytest
from healthwatch.notify.sns import SnsNotifier

from tests.contract.notifiers import Destination, NotifierContract
from tests.integration.conftest import Subscription


class TestSns(NotifierContract):
    @pytest.fixture
    def destination(self, aws_env, moto_server):
        sns = moto_server.client("sns")
        topic = sns.create_topic(Name=f"alerts-{uuid.uuid4().hex[:8]}")["TopicArn"]
        inbox = Subscription(moto_server, topic)

        def received() -> list[str]:
            # The JSON alert event (`default`) is what the chat function and SQS read.
            return [n["Message"] for n in inbox.receive()]

        def broken() -> SnsNotifier:  # a topic that was deleted
            return SnsNotifier(sns, topic + "-gone", sleep=lambda _: None)

        yield Destination(
            notifier=SnsNotifier(sns, topic, sleep=lambda _: None),
            broken=broken,
            received=lambda: [json.dumps(json.loads(m), ensure_ascii=False) for m in received()],
        )
