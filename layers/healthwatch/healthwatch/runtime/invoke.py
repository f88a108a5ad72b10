"""Lambda's Invoke API through boto3: the `Invoker` port of shards and probe regions."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from healthwatch.errors import InvokeError
from healthwatch.runtime.clients import client

log = logging.getLogger("healthwatch.runtime")

# A probe region waits out the tier's deadline at most: a timed-out Invoke is not retried
# (the region is unavailable for this run), and a refused one is not either.
PROBE_ATTEMPTS = 1
# Queuing a shard is cheap and idempotent enough to retry: Lambda took it or it did not.
SHARD_ATTEMPTS = 3


class LambdaInvoker:
    """`Invoker` over one region's Lambda endpoint (`endpoint_url` for a proxy or a local
    server speaking the Invoke API)."""

    def __init__(
        self,
        region: str | None = None,
        endpoint_url: str | None = None,
        read_timeout: float = 60.0,
        attempts: int = PROBE_ATTEMPTS,
    ) -> None:
        self.region, self.endpoint_url = region, endpoint_url
        self.read_timeout, self.attempts = read_timeout, attempts
        self._clients: dict[float, Any] = {}

    def _client(self, timeout: float) -> Any:
        # botocore's read timeout is the client's: one client per (rounded) timeout.
        key = float(max(1, round(timeout)))
        if key not in self._clients:
            self._clients[key] = client(
                "lambda",
                region=self.region,
                endpoint_url=self.endpoint_url,
                read_timeout=key,
                attempts=self.attempts,
            )
        return self._clients[key]

    def invoke(self, function: str, payload: Mapping[str, Any], timeout: float) -> Any:
        response = self._call(function, payload, "RequestResponse", timeout)
        body = response["Payload"].read()
        error = response.get("FunctionError")
        if error:
            raise InvokeError(f"{function}: function error ({error}): {_message(body)}")
        try:
            return json.loads(body) if body else None
        except ValueError:
            raise InvokeError(f"{function}: the answer is not JSON") from None

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        response = self._call(function, payload, "Event", self.read_timeout)
        if response.get("StatusCode") != 202:
            raise InvokeError(f"{function}: not queued (status {response.get('StatusCode')})")

    def _call(self, function: str, payload: Mapping[str, Any], kind: str, timeout: float) -> Any:
        """One Invoke; Lambda's refusals (throttled, not found, not allowed) and transport
        failures (no connection, read timeout) as `InvokeError`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._client(timeout).invoke(
                FunctionName=function, InvocationType=kind, Payload=json.dumps(payload).encode()
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise InvokeError(f"{function}: {code}") from None
        except BotoCoreError as exc:
            raise InvokeError(f"{function}: {type(exc).__name__}") from None


def _message(body: bytes) -> str:
    """The `errorMessage` of a function error's answer (Lambda's shape), in one line."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(doc, dict):
        return (
            str(doc.get("errorType") or "")
            + (": " if doc.get("errorType") else "")
            + str(doc.get("errorMessage") or "")
        )
    return str(doc)[:200]
