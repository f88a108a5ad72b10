"""The S3 result store: one JSON Lines object per run, `latest/{tier}.json`, documents by key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

from healthwatch.models import TierRun
from healthwatch.storage.keys import jsonl, latest_document, latest_run_key, result_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

JSON_LINES = "application/x-ndjson"
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3ResultStore:
    """ResultStore over one bucket, with the key layout of DESIGN.md (`storage.keys`)."""

    def __init__(self, client: S3Client | Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def write_run(self, run: TierRun) -> str:
        key = result_key(run)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=jsonl(run), ContentType=JSON_LINES)
        return key

    def write_latest(self, run: TierRun) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=latest_run_key(run),
            Body=latest_document(run),
            ContentType="application/json",
            CacheControl="no-cache",
        )

    def put_document(self, key: str, body: bytes | BinaryIO, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            CacheControl="no-cache",
        )

    def get_document(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        body: bytes = response["Body"].read()
        return body
