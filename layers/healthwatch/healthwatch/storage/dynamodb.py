"""The DynamoDB history and alert state: one table, the `pk`/`sk` layout of DESIGN.md."""

from __future__ import annotations

import json
import math
import random
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from healthwatch.codec import dumps
from healthwatch.errors import ConflictError, StoreError
from healthwatch.models import AlertState, Outcomes, Result, TierRun, iso, utcnow
from healthwatch.storage.keys import shard_suffix

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

WRITE_BATCH = 25  # BatchWriteItem's limit
READ_BATCH = 100  # BatchGetItem's limit
TRANSACT_BATCH = 100  # TransactWriteItems' limit
DETAILS_LIMIT = 16_000  # bytes of a result's `details` kept in history (the S3 line has all)
_FLOATS = {"latency_ms", "duration_ms"}


def result_pk(check_id: str) -> str:
    return f"check#{check_id}"


def tier_pk(tier: str) -> str:
    return f"tier#{tier}"


class DynamoStore:
    """HistoryStore and StateStore over one table.

    - `check#{id}` / `result#{started_at}`: a compact result, expiring `history_days` after
      it is written (TTL on `expires_at`);
    - `check#{id}` / `state`: the alert state as JSON, guarded by `version`;
    - `tier#{tier}` / `run#{started_at}`: the run summary (`run#{started_at}#{shard}` for a
      shard of a split tier).
    """

    def __init__(
        self,
        client: DynamoDBClient | Any,
        table: str,
        *,
        history_days: int = 30,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 8,
        page_size: int | None = None,
    ) -> None:
        self.client = client
        self.table = table
        self.history_days = history_days
        self.now = now
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.page_size = page_size

    # -- HistoryStore ----------------------------------------------------------------------

    def put_results(self, run: TierRun) -> None:
        """Every result and the run's rollup, 25 items per BatchWriteItem."""
        expires = expiry(self.now(), self.history_days)
        items = [_result_item(r, expires) for r in run.results] + [_rollup_item(run, expires)]
        for start in range(0, len(items), WRITE_BATCH):
            chunk = items[start : start + WRITE_BATCH]
            self._write_batch([{"PutRequest": {"Item": _serialize(i)}} for i in chunk])

    def put_summary(self, run: TierRun) -> None:
        """The run summary (`tier#{tier}`, `run#{started_at}`), written once alerts went out."""
        item = _run_item(run, expiry(self.now(), self.history_days))
        self.client.put_item(TableName=self.table, Item=_serialize(item))

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: requests}
        for attempt in range(1, self.max_attempts + 1):
            response = self.client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
            if attempt < self.max_attempts:
                self.sleep(_backoff(attempt))
        left = sum(len(v) for v in pending.values())
        raise StoreError(
            f"{left} history items still unprocessed after {self.max_attempts} attempts"
        )

    def query(self, check_id: str, since: datetime, until: datetime | None = None) -> list[Result]:
        until = until or self.now() + timedelta(seconds=1)
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":pk": {"S": result_pk(check_id)},
                ":from": {"S": f"result#{iso(since)}"},
                ":to": {"S": f"result#{iso(until)}"},
            },
        }
        end = iso(until)
        return [Result.from_dict(r) for r in self._pages("query", params) if r["started_at"] < end]

    def query_all(
        self, since: datetime, until: datetime | None = None, *, skip_run: str | None = None
    ) -> Iterator[Result]:
        """A scan: the table holds `history_days` of results, small enough for a report."""
        until = until or self.now() + timedelta(seconds=1)
        params: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":from": {"S": f"result#{iso(since)}"},
                ":to": {"S": f"result#{iso(until)}"},
            },
        }
        end = iso(until)
        records = [
            Result.from_dict(r)
            for r in self._pages("scan", params)
            if r["started_at"] < end and (skip_run is None or r.get("run_id") != skip_run)
        ]
        records.sort(key=lambda r: r.started_at)
        return iter(records)

    def outcomes(self, tier: str, since: datetime, until: datetime) -> list[Outcomes]:
        """One Query of the tier's rollup items (paged): never one per check."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":pk": {"S": tier_pk(tier)},
                ":from": {"S": f"outcomes#{iso(since)}"},
                ":to": {"S": f"outcomes#{iso(until)}"},
            },
        }
        out = []
        for page in self._raw_pages("query", params):
            for item in page:
                body = json.loads(zlib.decompress(item["outcomes"]["B"]))
                rollup = Outcomes.from_dict(body)
                if iso(since) <= rollup.started_at < iso(until):
                    out.append(rollup)
        return out

    def runs(self, tier: str, since: datetime) -> list[dict[str, Any]]:
        """Run summaries of a tier since `since`, oldest first."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk >= :from",
            "ExpressionAttributeValues": {
                ":pk": {"S": tier_pk(tier)},
                ":from": {"S": f"run#{iso(since)}"},
            },
        }
        out = []
        for page in self._raw_pages("query", params):
            for item in page:
                data = _deserialize(item)
                for key in ("pk", "sk", "expires_at"):
                    data.pop(key, None)
                out.append(data)
        return out

    def _pages(self, operation: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for page in self._raw_pages(operation, params):
            for item in page:
                yield _record(item)

    def _raw_pages(self, operation: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        call = getattr(self.client, operation)
        params = dict(params)
        if self.page_size:
            params["Limit"] = self.page_size
        while True:
            response = call(**params)
            yield response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    # -- StateStore ------------------------------------------------------------------------

    def load(self, check_ids: Iterable[str]) -> Mapping[str, AlertState]:
        """Strongly consistent reads, 100 keys per BatchGetItem: a reload after a conflict
        must see the state that won."""
        ids = list(dict.fromkeys(check_ids))
        found: dict[str, AlertState] = {}
        for start in range(0, len(ids), READ_BATCH):
            keys = [
                {"pk": {"S": result_pk(cid)}, "sk": {"S": "state"}}
                for cid in ids[start : start + READ_BATCH]
            ]
            pending: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(1, self.max_attempts + 1):
                response = self.client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table, []):
                    state = _state(item)
                    found[state.check_id] = state
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                if attempt < self.max_attempts:
                    self.sleep(_backoff(attempt))
            else:
                raise StoreError(f"alert states still unread after {self.max_attempts} attempts")
        return {cid: found.get(cid) or AlertState(check_id=cid) for cid in ids}

    def load_all(self) -> dict[str, AlertState]:
        """A Scan for the `state` items: for the reading commands, never for a run."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :state",
            "ExpressionAttributeValues": {":state": {"S": "state"}},
            "ConsistentRead": True,
        }
        out: dict[str, AlertState] = {}
        for page in self._raw_pages("scan", params):
            for item in page:
                state = _state(item)
                out[state.check_id] = state
        return out

    def save(self, state: AlertState) -> AlertState:
        from botocore.exceptions import ClientError

        saved, params = self._put(state)
        try:
            self.client.put_item(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConflictError(
                    f"state of {state.check_id} changed since version {state.version}"
                ) from None
            raise
        return saved

    def save_many(self, states: Sequence[AlertState]) -> dict[str, AlertState | ConflictError]:
        """`save` for many states, 100 per TransactWriteItems (each Put keeps its version
        condition). A transaction is all or nothing, so the states that lost their race are
        reported as conflicts and the others are written again without them."""
        out: dict[str, AlertState | ConflictError] = {}
        for start in range(0, len(states), TRANSACT_BATCH):
            out.update(self._transact(list(states[start : start + TRANSACT_BATCH])))
        return out

    def _transact(self, states: list[AlertState]) -> dict[str, AlertState | ConflictError]:
        from botocore.exceptions import ClientError

        out: dict[str, AlertState | ConflictError] = {}
        pending = states
        for attempt in range(1, self.max_attempts + 1):
            if not pending:
                break
            puts = [self._put(s) for s in pending]
            try:
                items: list[Any] = [{"Put": p} for _, p in puts]
                self.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                if error.get("Code") != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or _reasons(error, len(puts))
                retry = []
                for state, reason in zip(pending, reasons, strict=False):
                    code = (reason or {}).get("Code") or "None"
                    if code in ("ConditionalCheckFailed", "TransactionConflict"):
                        out[state.check_id] = ConflictError(
                            f"state of {state.check_id} changed since version {state.version}"
                        )
                    else:  # not written because of the others, or throttled: try again
                        retry.append(state)
                if len(retry) == len(pending) and attempt < self.max_attempts:
                    self.sleep(_backoff(attempt))
                pending = retry
                continue
            for saved, _ in puts:
                out[saved.check_id] = saved
            pending = []
        if pending:
            raise StoreError(
                f"{len(pending)} alert states still unsaved after {self.max_attempts} attempts"
            )
        return out

    def _put(self, state: AlertState) -> tuple[AlertState, dict[str, Any]]:
        """The state with its next version, and the conditional Put that stores it."""
        saved = AlertState.from_dict({**state.to_dict(), "version": state.version + 1})
        body = saved.to_dict()
        body.pop("version")
        item = {
            "pk": {"S": result_pk(state.check_id)},
            "sk": {"S": "state"},
            "version": {"N": str(saved.version)},
            "state": {"S": dumps(body).decode()},
            # Readable in the console; the JSON above is what is loaded.
            "status": {"S": saved.status},
            "incident_open": {"BOOL": saved.incident_open},
            "consecutive_failures": {"N": str(saved.consecutive_failures)},
            "updated_at": {"S": iso(self.now())},
        }
        if state.version == 0:
            condition = "attribute_not_exists(pk)"
            values = None
        else:
            condition = "#version = :expected"
            values = {":expected": {"N": str(state.version)}}
        params: dict[str, Any] = {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": condition,
        }
        if values:
            params["ExpressionAttributeNames"] = {"#version": "version"}
            params["ExpressionAttributeValues"] = values
        return saved, params


# -- items -------------------------------------------------------------------------------------


def _result_item(result: Result, expires: int) -> dict[str, Any]:
    record = result.to_dict()
    details = dumps(record.pop("details") or {}).decode()
    if len(details) > DETAILS_LIMIT:
        details = json.dumps({"truncated": True})
    return {
        "pk": result_pk(result.check_id),
        "sk": f"result#{result.started_at}",
        "expires_at": expires,
        **record,
        "details": details,
    }


def _rollup_item(run: TierRun, expires: int) -> dict[str, Any]:
    """`tier#{tier}` / `outcomes#{started_at}#{run_id}`: the run's outcomes, compressed
    (10,000 check ids take about 20 KB; an item may hold 400 KB)."""
    body = dumps(Outcomes.of(run).to_dict())
    return {
        "pk": tier_pk(run.tier),
        "sk": f"outcomes#{run.started_at}#{run.run_id}{shard_suffix(run, '#')}",
        "expires_at": expires,
        "outcomes": zlib.compress(body, 6),
    }


def _run_item(run: TierRun, expires: int) -> dict[str, Any]:
    return {
        "pk": tier_pk(run.tier),
        "sk": f"run#{run.started_at}{shard_suffix(run, '#')}",
        "expires_at": expires,
        **run.summary(),
    }


def _record(item: dict[str, Any]) -> dict[str, Any]:
    data = _deserialize(item)
    for key in ("pk", "sk", "expires_at"):
        data.pop(key, None)
    details = data.get("details")
    data["details"] = json.loads(details) if isinstance(details, str) and details else {}
    return Result.from_dict(data).to_dict()


def _state(item: dict[str, Any]) -> AlertState:
    body = json.loads(item["state"]["S"])
    body["version"] = int(item["version"]["N"])
    return AlertState.from_dict(body)


def _serialize(data: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(_to_dynamo(v)) for k, v in data.items()}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: _from_dynamo(deserializer.deserialize(v), k) for k, v in item.items()}


def _to_dynamo(value: Any) -> Any:
    """DynamoDB numbers are Decimals; NaN and infinities have no place there."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int | bytes):
        return value
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return str(value)


def _from_dynamo(value: Any, key: str = "") -> Any:
    if isinstance(value, Decimal):
        if key in _FLOATS or value != value.to_integral_value():
            return float(value)
        return int(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def _reasons(error: Mapping[str, Any], count: int) -> list[dict[str, str]]:
    """Cancellation reasons from the error message, for clients that do not parse them:
    `Transaction cancelled, please refer cancellation reasons for specific reasons
    [None, ConditionalCheckFailed]`."""
    match = re.search(r"\[([^\]]*)\]\s*$", str(error.get("Message", "")))
    codes = [c.strip() for c in match.group(1).split(",")] if match else []
    return [{"Code": c} for c in codes] if len(codes) == count else [{"Code": "None"}] * count


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: 50 ms, 100 ms, 200 ms ... capped at 2 s."""
    return random.uniform(0, min(2.0, 0.05 * 2 ** (attempt - 1)))  # noqa: S311


def expiry(now: datetime, days: int) -> int:
    """`expires_at` for an item written at `now`: epoch seconds, what DynamoDB TTL reads."""
    return int((now.astimezone(UTC) + timedelta(days=days)).timestamp())
