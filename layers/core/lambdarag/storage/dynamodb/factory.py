"""The DynamoDB storage factory: KV namespaces, doc status and fragments of one workspace.

DynamoDB holds no vectors and no graph: compose this factory as the base of a
:class:`~lambdarag.storage.composite.CompositeStorageFactory` that takes them from
OpenSearch and Neptune (or the embedded store).
"""

from __future__ import annotations

import logging
from typing import Any

from lambdarag.storage import base
from lambdarag.storage.base import StorageError, StorageFactory
from lambdarag.storage.dynamodb.blobs import BlobStore, S3BlobStore
from lambdarag.storage.dynamodb.doc_status import DynamoDocStatusStorage
from lambdarag.storage.dynamodb.fragments import DynamoFragmentStorage
from lambdarag.storage.dynamodb.kv import DynamoKVStorage
from lambdarag.storage.dynamodb.settings import DynamoDBSettings
from lambdarag.storage.dynamodb.table import REGISTRY_PK, DynamoTable, make_client

logger = logging.getLogger(__name__)


class DynamoDBStorageFactory(StorageFactory):
    """Opens one workspace's DynamoDB stores; store objects are cached.

    ``client`` (a boto3 DynamoDB client) is made from ``settings`` when not given, and then
    closed with the factory. ``blob_store`` receives values over the inline limit; when
    not given and ``settings.blob_bucket`` is set, an :class:`S3BlobStore` is made.
    """

    def __init__(
        self,
        settings: DynamoDBSettings,
        workspace: str,
        *,
        client: Any | None = None,
        blob_store: BlobStore | None = None,
    ) -> None:
        self.workspace = workspace
        self.settings = settings
        self._owns_client = client is None
        self._client = client if client is not None else make_client(settings)
        if blob_store is None and settings.blob_bucket:
            blob_store = _s3_blob_store(settings)
        self._table = DynamoTable(self._client, settings, blob_store)
        self._kv: dict[str, DynamoKVStorage] = {}
        self._doc_status: DynamoDocStatusStorage | None = None
        self._fragments: DynamoFragmentStorage | None = None
        self._closed = False

    def kv(self, namespace: str) -> base.KVStorage:
        if namespace not in self._kv:
            self._kv[namespace] = DynamoKVStorage(self._table, self.workspace, namespace)
        return self._kv[namespace]

    def doc_status(self) -> base.DocStatusStorage:
        if self._doc_status is None:
            self._doc_status = DynamoDocStatusStorage(self._table, self.workspace)
        return self._doc_status

    def fragments(self) -> base.FragmentStorage:
        if self._fragments is None:
            self._fragments = DynamoFragmentStorage(self._table, self.workspace)
        return self._fragments

    def vectors(self, namespace: str, dim: int) -> base.VectorStorage:
        raise StorageError(
            "DynamoDB stores no vectors: compose DynamoDBStorageFactory with a vector backend "
            "through CompositeStorageFactory(vectors=...)"
        )

    def graph(self) -> base.GraphStorage:
        raise StorageError(
            "DynamoDB stores no graph: compose DynamoDBStorageFactory with a graph backend "
            "through CompositeStorageFactory(graph=...)"
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            self._client.close()
        logger.debug("closed DynamoDB workspace %r (table %s)", self.workspace, self.settings.table)


def _s3_blob_store(settings: DynamoDBSettings) -> S3BlobStore:
    import boto3

    client = boto3.client("s3", region_name=settings.region)
    return S3BlobStore(client, settings.blob_bucket, settings.blob_prefix)


def stored_workspaces(settings: DynamoDBSettings, client: Any) -> list[str]:
    """The workspaces that hold documents: one Query of the registry partition, never a Scan.

    A workspace is registered by its first doc-status write. A missing table means none.
    """
    table = DynamoTable(client, settings)
    try:
        return sorted(item["w"] for item in table.query_sync(REGISTRY_PK, attributes=["w"]))
    except client.exceptions.ResourceNotFoundException:
        return []
