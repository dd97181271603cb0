"""The backends the storage contract suite runs against.

A backend is registered in ``BACKENDS`` as ``name -> context(tmp_path)``: an async
context manager that yields ``make(workspace) -> StorageFactory`` and releases
everything it opened on exit. ``make`` may be called several times, also with the
same workspace (tests reopen a workspace after closing its factory, and open two
factories on one workspace). Each test gets a fresh context, so remote backends
must scope their workspaces per context (for example with a unique prefix).

``LAMBDARAG_CONTRACT_BACKENDS`` (comma-separated, default ``embedded``) selects
the backends to run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from lambdarag.storage.base import StorageFactory

MakeFactory = Callable[[str], StorageFactory]
BackendContext = Callable[[Path], AbstractAsyncContextManager[MakeFactory]]

WORKSPACE = "contract"
BACKENDS_ENV = "LAMBDARAG_CONTRACT_BACKENDS"


@asynccontextmanager
async def _closing(build: MakeFactory) -> AsyncIterator[MakeFactory]:
    """``make(workspace)`` = ``build(workspace)``; every factory made is closed on exit."""
    opened: list[StorageFactory] = []

    def make(workspace: str) -> StorageFactory:
        factory = build(workspace)
        opened.append(factory)
        return factory

    try:
        yield make
    finally:
        for factory in opened:
            await factory.close()


@asynccontextmanager
async def embedded_backend(tmp_path: Path) -> AsyncIterator[MakeFactory]:
    """SQLite files under ``tmp_path``."""
    from lambdarag.storage.embedded import EmbeddedStorageFactory

    async with _closing(lambda ws: EmbeddedStorageFactory(tmp_path / "rag_storage", ws)) as make:
        yield make


@asynccontextmanager
async def neptune_backend(tmp_path: Path) -> AsyncIterator[MakeFactory]:
    """Embedded stores with the graph on the local Gremlin Server (TinkerGraph like Neptune).

    Workspaces get a per-context unique prefix, as the server is shared; on exit the
    context drops every workspace it used and closes its connection. Factories close
    nothing of the graph, since a test may reopen a workspace after closing its factory.
    """
    import uuid

    from lambdarag.storage.composite import CompositeStorageFactory
    from lambdarag.storage.embedded import EmbeddedStorageFactory
    from lambdarag.storage.neptune import GremlinRunner, NeptuneConfig, NeptuneGraphStorage
    from tests.aws.conftest import HOST, require_service

    port = int(os.environ.get("LAMBDARAG_GREMLIN_PORT", "8182"))
    require_service("gremlin", port)
    runner = GremlinRunner(NeptuneConfig(url=f"ws://{HOST}:{port}/gremlin"))
    prefix = f"c{uuid.uuid4().hex[:10]}"
    graphs: dict[str, NeptuneGraphStorage] = {}

    def graph_of(workspace: str) -> NeptuneGraphStorage:
        if workspace not in graphs:
            graphs[workspace] = NeptuneGraphStorage(runner, f"{prefix}_{workspace}")
        return graphs[workspace]

    def build(workspace: str) -> StorageFactory:
        base = EmbeddedStorageFactory(tmp_path / "rag_storage", workspace)
        return CompositeStorageFactory(base, graph=lambda: graph_of(workspace))

    try:
        async with _closing(build) as make:
            yield make
    finally:
        for graph in graphs.values():
            await graph.drop()
        await runner.close()


@asynccontextmanager
async def opensearch_backend(tmp_path: Path) -> AsyncIterator[MakeFactory]:
    """Embedded stores with the vectors on the local OpenSearch node (k-NN, lucene).

    Indices get a per-context unique prefix, as the node is shared. Each factory has its
    own client, closed with the factory; the indices outlive it (a test may reopen a
    workspace after closing its factory) and are deleted when the context exits.
    """
    import uuid

    from lambdarag.storage.composite import CompositeStorageFactory
    from lambdarag.storage.embedded import EmbeddedStorageFactory
    from lambdarag.storage.opensearch import (
        OpenSearchSettings,
        OpenSearchVectors,
        delete_indices,
        make_client,
    )
    from tests.aws.conftest import HOST, require_service

    port = int(os.environ.get("LAMBDARAG_OPENSEARCH_PORT", "9200"))
    require_service("opensearch", port)
    settings = OpenSearchSettings(
        hosts=(f"http://{HOST}:{port}",), index_prefix=f"lrct-{uuid.uuid4().hex[:10]}"
    )

    def build(workspace: str) -> StorageFactory:
        vectors = OpenSearchVectors(make_client(settings), settings, workspace, owns_client=True)
        base = EmbeddedStorageFactory(tmp_path / "rag_storage", workspace)
        return CompositeStorageFactory(base, vectors=vectors, closers=[vectors.close])

    try:
        async with _closing(build) as make:
            yield make
    finally:
        admin = make_client(settings)
        try:
            await delete_indices(admin, settings.index_prefix, settings.endpoint)
        finally:
            await admin.close()


@asynccontextmanager
async def s3vectors_backend(tmp_path: Path) -> AsyncIterator[MakeFactory]:
    """Embedded stores with the vectors on S3 Vectors: the local server, over HTTP.

    Each context starts its own server (tests/fakes/s3vectors_server.py) with boto3's real
    ``s3vectors`` client in front of it; items over the metadata budget overflow into the
    workspace's embedded KV store, as they go to the state store in a deployment.
    """
    import uuid

    from lambdarag.storage.composite import CompositeStorageFactory
    from lambdarag.storage.embedded import EmbeddedStorageFactory
    from lambdarag.storage.s3vectors import S3VectorsBucket, S3VectorsSettings, S3VectorsStorage
    from tests.fakes.s3vectors_server import S3VectorsServer

    with S3VectorsServer() as server:
        settings = S3VectorsSettings(bucket=f"lrct-{uuid.uuid4().hex[:10]}",
                                     endpoint_url=server.url)
        bucket = S3VectorsBucket(settings, s3vectors_client(server.url))

        def build(workspace: str) -> StorageFactory:
            base = EmbeddedStorageFactory(tmp_path / "rag_storage", workspace)
            return CompositeStorageFactory(base, vectors=lambda namespace, dim: S3VectorsStorage(
                bucket, workspace, namespace, dim, overflow=base.kv(f"vector_overflow_{namespace}")))

        try:
            async with _closing(build) as make:
                yield make
        finally:
            bucket.close()


def s3vectors_client(url: str, attempts: int = 6) -> Any:
    """A boto3 ``s3vectors`` client for the local server, with the suite's dummy credentials."""
    import boto3
    from botocore.config import Config

    from tests.aws.conftest import AWS_CREDENTIALS, AWS_REGION

    return boto3.client("s3vectors", endpoint_url=url, region_name=AWS_REGION,
                        config=Config(retries={"mode": "adaptive", "total_max_attempts": attempts}),
                        **AWS_CREDENTIALS)


def _dynamodb_client(port: int) -> Any:
    """A boto3 client for DynamoDB Local with the suite's fixed dummy credentials."""
    import boto3
    from botocore.config import Config

    from tests.aws.conftest import AWS_CREDENTIALS, AWS_REGION, HOST

    return boto3.client(
        "dynamodb", endpoint_url=f"http://{HOST}:{port}", region_name=AWS_REGION,
        config=Config(retries={"mode": "adaptive", "max_attempts": 5}), **AWS_CREDENTIALS,
    )


@asynccontextmanager
async def dynamodb_backend(tmp_path: Path) -> AsyncIterator[MakeFactory]:
    """KV, doc status and fragments on DynamoDB Local; vectors and graph embedded.

    Each context has its own table (``lrct-<uuid>``), created on first use and deleted
    when the context exits; factories share the context's client and do not close it.
    """
    async with _dynamodb_tables() as dynamo:

        def make(workspace: str) -> StorageFactory:
            from lambdarag.storage.composite import CompositeStorageFactory
            from lambdarag.storage.embedded import EmbeddedStorageFactory

            embedded = EmbeddedStorageFactory(tmp_path / "rag_storage", workspace)
            return CompositeStorageFactory(
                dynamo(workspace), vectors=embedded.vectors, graph=embedded.graph,
                closers=[embedded.close],
            )

        yield make


@asynccontextmanager
async def aws_backend(tmp_path: Path) -> AsyncIterator[MakeFactory]:
    """All three AWS adapters at once: DynamoDB + OpenSearch vectors + Neptune graph."""
    from lambdarag.storage.composite import CompositeStorageFactory

    async with (
        _dynamodb_tables() as dynamo,
        opensearch_backend(tmp_path / "os") as vectors_of,
        neptune_backend(tmp_path / "neptune") as graph_of,
    ):

        def make(workspace: str) -> StorageFactory:
            with_vectors, with_graph = vectors_of(workspace), graph_of(workspace)
            return CompositeStorageFactory(
                dynamo(workspace), vectors=with_vectors.vectors, graph=with_graph.graph,
                closers=[with_vectors.close, with_graph.close],
            )

        yield make


@asynccontextmanager
async def _dynamodb_tables() -> AsyncIterator[MakeFactory]:
    """``make(workspace)`` of DynamoDB factories on a table unique to this context."""
    import asyncio
    import uuid

    from lambdarag.storage.dynamodb import DynamoDBSettings, DynamoDBStorageFactory
    from tests.aws.conftest import require_service

    port = int(os.environ.get("LAMBDARAG_DYNAMODB_PORT", "8000"))
    require_service("dynamodb", port)
    client = _dynamodb_client(port)
    settings = DynamoDBSettings(table=f"lrct-{uuid.uuid4().hex[:12]}")

    try:
        async with _closing(
            lambda workspace: DynamoDBStorageFactory(settings, workspace, client=client)
        ) as make:
            yield make
    finally:
        try:
            await asyncio.to_thread(client.delete_table, TableName=settings.table)
        except client.exceptions.ResourceNotFoundException:
            pass  # no test of this context touched DynamoDB
        client.close()


@asynccontextmanager
async def dynamodb_graph_backend(tmp_path: Path) -> AsyncIterator[MakeFactory]:
    """Embedded stores with the graph on DynamoDB Local (its own table, as on AWS).

    Each context has its own graph table, deleted on exit; graphs outlive their factories
    (a test may reopen a workspace after closing its factory).
    """
    from lambdarag.storage.composite import CompositeStorageFactory
    from lambdarag.storage.embedded import EmbeddedStorageFactory

    async with _dynamodb_graph_tables() as graph_of:

        def build(workspace: str) -> StorageFactory:
            base = EmbeddedStorageFactory(tmp_path / "rag_storage", workspace)
            return CompositeStorageFactory(base, graph=lambda: graph_of(workspace))

        async with _closing(build) as make:
            yield make


@asynccontextmanager
async def _dynamodb_graph_tables() -> AsyncIterator[Callable[[str], Any]]:
    """``graph_of(workspace)``: DynamoDBGraphStorage on a graph table unique to this context."""
    import asyncio
    import uuid

    from lambdarag.storage.dynamodb import DynamoDBSettings
    from lambdarag.storage.dynamodb.graph import DynamoDBGraphStorage, GraphTable
    from tests.aws.conftest import require_service

    port = int(os.environ.get("LAMBDARAG_DYNAMODB_PORT", "8000"))
    require_service("dynamodb", port)
    client = _dynamodb_client(port)
    table = GraphTable(client, DynamoDBSettings(table=f"lrct-{uuid.uuid4().hex[:12]}-graph"))
    try:
        yield lambda workspace: DynamoDBGraphStorage(table, workspace)
    finally:
        try:
            await asyncio.to_thread(client.delete_table, TableName=table.name)
        except client.exceptions.ResourceNotFoundException:
            pass
        client.close()


@asynccontextmanager
async def lowcost_backend(tmp_path: Path) -> AsyncIterator[MakeFactory]:
    """The low-cost AWS tier at once: DynamoDB state and graph, S3 Vectors vectors."""
    from lambdarag.storage.composite import CompositeStorageFactory

    async with (
        _dynamodb_tables() as dynamo,
        _dynamodb_graph_tables() as graph_of,
        s3vectors_backend(tmp_path / "s3v") as vectors_of,
    ):

        def make(workspace: str) -> StorageFactory:
            with_vectors = vectors_of(workspace)
            return CompositeStorageFactory(
                dynamo(workspace), vectors=with_vectors.vectors,
                graph=lambda: graph_of(workspace), closers=[with_vectors.close],
            )

        yield make


BACKENDS: dict[str, BackendContext] = {
    "embedded": embedded_backend,
    "neptune": neptune_backend,
    "opensearch": opensearch_backend,
    "dynamodb": dynamodb_backend,
    "aws": aws_backend,
    "s3vectors": s3vectors_backend,
    "dynamodb_graph": dynamodb_graph_backend,
    "lowcost": lowcost_backend,
}


def selected_backends() -> list[str]:
    """The backend names chosen by ``LAMBDARAG_CONTRACT_BACKENDS``."""
    raw = os.environ.get(BACKENDS_ENV, "embedded")
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BACKENDS))
    if unknown:
        raise pytest.UsageError(
            f"{BACKENDS_ENV} names unknown backends {unknown}; known: {sorted(BACKENDS)}"
        )
    return names
