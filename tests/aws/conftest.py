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

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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
