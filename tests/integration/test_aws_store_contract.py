"""The store suite of test_store_contract.py, run against S3 + DynamoDB in moto."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from healthwatch.storage.dynamodb import DynamoStore
from healthwatch.storage.s3 import S3ResultStore

from tests.integration.test_aws_adapters import make_table
from tests.integration.test_store_contract import (  # noqa: F401 - collected here as well
    test_documents_round_trip,
    test_history_by_check_and_window,
    test_history_spans_days,
    test_result_key_layout,
    test_stale_write_is_a_conflict,
    test_state_round_trip_and_version,
    test_state_starts_fresh,
    test_two_writers_one_winner,
)


class AwsStores:
    """The AWS backend's three stores behind the one object the suite expects."""

    def __init__(self, results: S3ResultStore, table: DynamoStore) -> None:
        self.results, self.table = results, table

    def __getattr__(self, name: str) -> Any:
        if name in ("write_run", "put_document", "get_document"):
            return getattr(self.results, name)
        return getattr(self.table, name)


@pytest.fixture
def store(aws_env, moto_server, stack) -> AwsStores:
    """A fresh bucket and a fresh table (the template's key schema) for each scenario."""
    bucket = f"results-{uuid.uuid4().hex[:8]}"
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket=bucket)
    dynamodb = moto_server.client("dynamodb")
    return AwsStores(
        S3ResultStore(s3, bucket), DynamoStore(dynamodb, make_table(moto_server, stack))
    )
