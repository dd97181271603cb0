"""Where values too big for a DynamoDB item go: a blob store keyed by string.

DynamoDB items are limited to 400 KB. A value whose JSON is longer than the inline limit
is written to a :class:`BlobStore` and the item keeps only a pointer (the blob key). In
production the store is :class:`S3BlobStore` (``LAMBDARAG_DYNAMODB_BLOB_BUCKET``); tests
plug in an in-memory one. Blob keys are derived from the item's key, so rewriting an item
overwrites its blob. Methods are synchronous: they run in the adapter's worker thread,
next to the boto3 DynamoDB calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from lambdarag.storage.base import StorageError


class BlobStore(Protocol):
    """A key -> bytes store (thread-safe)."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; StorageError when missing."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Remove ``keys``; missing keys are ignored."""
        ...


class S3BlobStore:
    """Blobs as S3 objects ``<prefix><key>`` in ``bucket`` (a boto3 S3 client, thread-safe)."""

    _DELETE_BATCH = 1000  # DeleteObjects limit

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(
            Bucket=self._bucket, Key=self._prefix + key, Body=data,
            ContentType="application/json",
        )

    def get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._prefix + key)
        except self._client.exceptions.NoSuchKey as exc:
            raise StorageError(f"blob {self._prefix + key} is missing from s3://{self._bucket}") from exc
        body: bytes = response["Body"].read()
        return body

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), self._DELETE_BATCH):
            objects = [{"Key": self._prefix + key} for key in keys[start : start + self._DELETE_BATCH]]
            self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": objects, "Quiet": True}
            )
