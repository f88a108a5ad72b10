"""The SNS notifier: one publish per alert event, JSON for machines and plain text for email."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from healthwatch.errors import DeliveryError
from healthwatch.models import AlertEvent
from healthwatch.notify import email

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

# SNS takes 256 KiB per message, attributes and subject included; keep a margin.
MESSAGE_LIMIT = 240 * 1024
ATTRIBUTES = ("event", "severity", "tier", "check_id", "id")
# Worth another try: SNS throttled us, or it (or the network) failed for a moment.
TRANSIENT = {
    "Throttling",
    "ThrottlingException",
    "Throttled",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "KMSThrottlingException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
}


class SnsNotifier:
    """Publishes each alert event to the topic.

    `MessageStructure=json`: `default` is the alert event (what SQS, Lambda and
    `email-json` subscribers get), `email` the text a person reads on a phone. The
    message attributes let each subscription filter on event, severity, tier or check.
    """

    name = "sns"

    def __init__(
        self,
        client: SNSClient | Any,
        topic_arn: str,
        *,
        attempts: int = 2,
        sleep: Callable[[float], None] = time.sleep,
        worst_case_s: float = 60.0,
    ) -> None:
        self.client = client
        self.topic_arn = topic_arn
        self.attempts = attempts  # on top of the client's own retries
        self.sleep = sleep
        # One send, every attempt of ours and of the client's: see runtime.clients.
        self.worst_case_s = worst_case_s

    def send(self, event: AlertEvent) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        request = publish_request(event, self.topic_arn)
        problem = "not attempted"
        for attempt in range(1, self.attempts + 1):
            try:
                self.client.publish(**request)
                return
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
                problem = code
                if code not in TRANSIENT:
                    break
            except BotoCoreError as exc:  # connection errors, timeouts
                problem = type(exc).__name__
            if attempt < self.attempts:
                self.sleep(random.uniform(0, min(5.0, 0.2 * 2**attempt)))  # noqa: S311
        raise DeliveryError(
            f"sns: {event.event} alert for {event.check_id} not published ({problem})"
        )


def publish_request(event: AlertEvent, topic_arn: str) -> dict[str, Any]:
    """The `Publish` call's parameters for `event`."""
    payload = event.to_dict()
    text = email.body(event)
    message = _message(payload, text)
    if len(message.encode()) > MESSAGE_LIMIT:
        payload = _shrunk(payload)
        text = text[:8000]
        message = _message(payload, text)
    attributes = {
        name: {"DataType": "String", "StringValue": str(payload[name])}
        for name in ATTRIBUTES
        if payload.get(name) not in (None, "")
    }
    return {
        "TopicArn": topic_arn,
        "Subject": email.subject(event),
        "Message": message,
        "MessageStructure": "json",
        "MessageAttributes": attributes,
    }


def _message(payload: dict[str, Any], text: str) -> str:
    default = json.dumps(payload, separators=(",", ":"), default=str)
    return json.dumps({"default": default, "email": text})


def _shrunk(payload: dict[str, Any]) -> dict[str, Any]:
    """The event without what can be large (probe details, long lists): the full result is in S3."""
    out = dict(payload)
    result = dict(out.get("result") or {})
    result["details"] = {"truncated": True}
    result["conditions"] = (result.get("conditions") or [])[:20]
    out["result"] = result
    out["details"] = {"truncated": True}
    out["recent"] = (out.get("recent") or [])[-5:]
    if isinstance(out.get("error"), str):
        out["error"] = out["error"][:2000]
    return out
