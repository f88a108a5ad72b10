"""The store contract over the AWS backend: S3 for results, DynamoDB (the template's table
schema) for history and state, in a moto server on 127.0.0.1."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from healthwatch.storage.dynamodb import DynamoStore
from healthwatch.storage.s3 import S3ResultStore

from tests.contract.stores import StoreContract
from tests.integration.test_aws_adapters import make_table


class AwsStores:
    """The AWS backend's three stores behind the one object the suite expects."""

    def __init__(self, results: S3ResultStore, table: DynamoStore) -> None:
        self.results, self.table = results, table

    def __getattr__(self, name: str) -> Any:
        if name in ("write_run", "put_document", "get_document"):
            return getattr(self.results, name)
        return getattr(self.table, name)


class TestAwsStores(StoreContract):
    @pytest.fixture
    def store(self, aws_env, moto_server, stack) -> AwsStores:
        """A fresh bucket and a fresh table (the template's key schema) for each scenario."""
        bucket = f"results-{uuid.uuid4().hex[:8]}"
        s3 = moto_server.client("s3")
        s3.create_bucket(Bucket=bucket)
        dynamodb = moto_server.client("dynamodb")
        return AwsStores(
            S3ResultStore(s3, bucket), DynamoStore(dynamodb, make_table(moto_server, stack))
        )
