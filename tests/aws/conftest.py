"""Endpoints and clients of the local AWS stand-ins started by ``scripts/services``.

The servers are shared by every test run on the machine, so a test names its tables,
indices and graph ids with :func:`unique_name` and removes only what it created (never
``g.V().drop()`` on the whole graph).

A test that asks for a client is skipped when that server is not listening, unless
``LAMBDARAG_AWS_TESTS=1``, which turns the skip into a failure (CI sets it once it starts the
servers). Ports follow ``scripts/services``: ``LAMBDARAG_DYNAMODB_PORT`` (8000),
``LAMBDARAG_GREMLIN_PORT`` (8182) and ``LAMBDARAG_OPENSEARCH_PORT`` (9200).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gremlin_python.process.graph_traversal import GraphTraversalSource

REQUIRE_ENV = "LAMBDARAG_AWS_TESTS"
HOST = "127.0.0.1"
# Fixed dummy credentials: the local servers accept any, and nothing reads ~/.aws.
AWS_REGION = "us-east-1"
AWS_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


@dataclass(frozen=True)
class LocalAws:
    """Where the local stand-ins listen."""

    dynamodb_port: int
    gremlin_port: int
    opensearch_port: int

    @property
    def dynamodb_url(self) -> str:
        return f"http://{HOST}:{self.dynamodb_port}"

    @property
    def gremlin_url(self) -> str:
        return f"ws://{HOST}:{self.gremlin_port}/gremlin"

    @property
    def opensearch_url(self) -> str:
        return f"http://{HOST}:{self.opensearch_port}"


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"LAMBDARAG_{name}_PORT", default))


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, port: int) -> None:
    """Skip (or fail, with ``LAMBDARAG_AWS_TESTS=1``) unless something listens on ``port``."""
    if _listening(port):
        return
    reason = (
        f"{name} is not running on {HOST}:{port}: start it with `scripts/services start {name}`"
    )
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 requires it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def local_aws() -> LocalAws:
    """The ports of the three local servers (not checked: use the client fixtures)."""
    return LocalAws(
        dynamodb_port=_port("DYNAMODB", 8000),
        gremlin_port=_port("GREMLIN", 8182),
        opensearch_port=_port("OPENSEARCH", 9200),
    )


@pytest.fixture
def unique_name() -> str:
    """A short name no other test or concurrent run uses, e.g. ``t_1a2b3c4d``."""
    return f"t_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def dynamodb_client(local_aws: LocalAws) -> Any:
    """A boto3 DynamoDB client for DynamoDB Local."""
    require_service("dynamodb", local_aws.dynamodb_port)
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=local_aws.dynamodb_url,
        region_name=AWS_REGION,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
        **AWS_CREDENTIALS,
    )


@pytest.fixture(scope="session")
def gremlin_g(local_aws: LocalAws) -> Iterator[GraphTraversalSource]:
    """A remote traversal source ``g`` on Gremlin Server (TinkerGraph set up like Neptune).

    gremlinpython's synchronous calls run their own event loop: from async tests, connect
    with ``DriverRemoteConnection(..., call_from_event_loop=True)`` instead.
    """
    require_service("gremlin", local_aws.gremlin_port)
    from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
    from gremlin_python.process.anonymous_traversal import traversal

    connection = DriverRemoteConnection(local_aws.gremlin_url, "g")
    try:
        yield traversal().with_remote(connection)
    finally:
        connection.close()


@pytest.fixture(scope="session")
def opensearch_client(local_aws: LocalAws) -> Any:
    """An opensearch-py client for the local node (no auth, no TLS)."""
    require_service("opensearch", local_aws.opensearch_port)
    from opensearchpy import OpenSearch

    return OpenSearch(hosts=[local_aws.opensearch_url], timeout=30)


@contextmanager
def aws_env(monkeypatch: pytest.MonkeyPatch, prefix: str) -> Iterator[None]:
    """Select the AWS backends through the environment, as a deployment does."""
    opensearch_port = int(os.environ.get("LAMBDARAG_OPENSEARCH_PORT", "9200"))
    gremlin_port = int(os.environ.get("LAMBDARAG_GREMLIN_PORT", "8182"))
    require_service("opensearch", opensearch_port)
    require_service("gremlin", gremlin_port)
    monkeypatch.setenv("LIGHTRAG_VECTOR_STORAGE", "OpenSearchVectorDBStorage")
    monkeypatch.setenv("LIGHTRAG_GRAPH_STORAGE", "NeptuneGraphStorage")
    monkeypatch.setenv("OPENSEARCH_HOSTS", f"http://{HOST}:{opensearch_port}")
    monkeypatch.setenv("LAMBDARAG_OPENSEARCH_INDEX_PREFIX", prefix)
    monkeypatch.setenv("GREMLIN_URL", f"ws://{HOST}:{gremlin_port}/gremlin")
    table = f"lre2e_{uuid.uuid4().hex[:10]}"
    dynamodb_port = int(os.environ.get("LAMBDARAG_DYNAMODB_PORT", "8000"))
    require_service("dynamodb", dynamodb_port)
    monkeypatch.setenv("LIGHTRAG_KV_STORAGE", "DynamoDBKVStorage")
    monkeypatch.setenv("LIGHTRAG_DOC_STATUS_STORAGE", "DynamoDBDocStatusStorage")
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", f"http://{HOST}:{dynamodb_port}")
    monkeypatch.setenv("LAMBDARAG_DYNAMODB_TABLE", table)
    monkeypatch.setenv("AWS_REGION", AWS_REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_CREDENTIALS["aws_secret_access_key"])
    try:
        yield
    finally:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=f"http://{HOST}:{dynamodb_port}",
                              region_name=AWS_REGION, **AWS_CREDENTIALS)
        try:
            client.delete_table(TableName=table)
        except client.exceptions.ResourceNotFoundException:
            pass


async def drop_remote(ws: Any) -> None:
    """Remove a workspace's graph and vector indices (the servers are shared)."""
    await ws.stores.graph.drop()
    for store in (ws.stores.entities_vdb, ws.stores.relationships_vdb, ws.stores.chunks_vdb):
        await store.drop()


TRIGGER_HANDLER = Path(__file__).resolve().parents[2] / "functions" / "trigger" / "handler.py"


def trigger_module() -> ModuleType:
    """functions/trigger/handler.py, imported by path once per process, as Lambda does
    (Powertools' Logger expects that); tests patch its ``_engine`` and ``load_settings``."""
    name = "trigger_handler_under_test"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, TRIGGER_HANDLER)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


@contextmanager
def running_trigger(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[ModuleType]:
    """The trigger handler building its engine from ``settings``; the engine closes after."""
    module = trigger_module()
    monkeypatch.setattr(module, "_engine", None)
    monkeypatch.setattr(module, "load_settings", lambda: settings)
    try:
        yield module
    finally:
        if module._engine is not None:
            module._loop.run_until_complete(module._engine.aclose())
