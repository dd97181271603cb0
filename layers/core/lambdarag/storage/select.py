"""Choosing each kind of store from ``LIGHTRAG_*_STORAGE`` and assembling a workspace's factory.

Settings name one backend per kind (config.py: ``Settings.storage_backends``):

==============  ==========================================  =================================
kind            ``embedded`` (default)                      AWS
==============  ==========================================  =================================
KV + doc        ``JsonKVStorage``/``JsonDocStatusStorage``  ``DynamoDBKVStorage`` /
status                                                      ``DynamoDBDocStatusStorage``
vectors         ``NanoVectorDBStorage``                     ``OpenSearchVectorDBStorage``,
                                                            ``S3VectorsStorage``
graph           ``NetworkXStorage``                         ``NeptuneGraphStorage`` (or
                                                            LightRAG's ``GremlinStorage``),
                                                            ``DynamoDBGraphStorage``
==============  ==========================================  =================================

The KV and doc-status stores (and the extraction fragments, which follow them) are the
workspace's *state* and come from one backend: both embedded or both DynamoDB. Vectors and
graph come from the state factory unless another backend is chosen, through
:class:`~lambdarag.storage.composite.CompositeStorageFactory`.

Adapter modules are imported here, lazily, and only for the backends selected: importing
the engine never imports boto3, opensearch-py or gremlinpython. Clients are made once per
:class:`StorageSelection` (one per Engine) and shared by its workspaces.

Workspace listing (``Engine.workspace_names`` and the resume at start-up) is delegated to
the state backend, since a workspace exists when it has documents: the embedded one lists
``WORKING_DIR``; DynamoDB must list the workspaces in its tables (see :func:`_dynamodb_state`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdarag.storage.base import StorageFactory

if TYPE_CHECKING:
    from lambdarag.config import Settings

logger = logging.getLogger(__name__)

KINDS_SETTING = {
    "kv": "LIGHTRAG_KV_STORAGE",
    "doc_status": "LIGHTRAG_DOC_STATUS_STORAGE",
    "vectors": "LIGHTRAG_VECTOR_STORAGE",
    "graph": "LIGHTRAG_GRAPH_STORAGE",
}


def check_selection(backends: Mapping[str, str]) -> None:
    """Raise ValueError (one line, naming the variable) if the selection cannot start.

    The adapters' connection settings are checked where they are parsed, in config.py.
    """
    if backends["kv"] != backends["doc_status"]:
        raise ValueError(
            "LIGHTRAG_KV_STORAGE and LIGHTRAG_DOC_STATUS_STORAGE must use the same backend "
            f"(got {backends['kv']} and {backends['doc_status']}): both Json*/embedded or "
            "both DynamoDB*"
        )


@dataclass
class StorageSelection:
    """The backends chosen by Settings: opens workspaces, lists them, owns shared clients.

    Parameters
    ----------
    backends:
        ``Settings.storage_backends``.
    working_dir:
        Where embedded stores live (also when only some kinds are embedded).
    adapters:
        ``Settings.adapter_settings``: each selected AWS backend's settings object
        (``DynamoDBSettings``, ``OpenSearchSettings``, ``NeptuneConfig``).

    Examples
    --------
    >>> selection = StorageSelection.from_settings(settings)  # doctest: +SKIP
    >>> factory = selection.open("finance")  # doctest: +SKIP
    """

    backends: Mapping[str, str]
    working_dir: Path
    adapters: Mapping[str, Any]
    _shared: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> StorageSelection:
        return cls(settings.storage_backends, settings.working_dir, settings.adapter_settings)

    @property
    def all_embedded(self) -> bool:
        return set(self.backends.values()) == {"embedded"}

    def open(self, workspace: str) -> StorageFactory:
        """The factory of ``workspace``: the state backend's, with vectors/graph overridden."""
        from lambdarag.storage.composite import CompositeStorageFactory
        from lambdarag.storage.embedded import EmbeddedStorageFactory

        embedded: list[StorageFactory] = []

        def local() -> StorageFactory:
            if not embedded:
                embedded.append(EmbeddedStorageFactory(self.working_dir, workspace))
            return embedded[0]

        state_embedded = self.backends["kv"] == "embedded"
        base = local() if state_embedded else _dynamodb_state(self._shared, self.adapters["dynamodb"]).open(
            workspace
        )
        if self.all_embedded:
            return base
        vectors: Callable[[str, int], Any] | None = None
        graph: Callable[[], Any] | None = None
        if self.backends["vectors"] == "opensearch":
            vectors = self._opensearch(workspace)
        elif self.backends["vectors"] == "s3vectors":
            vectors = self._s3vectors(workspace, base)
        elif not state_embedded:
            vectors = lambda namespace, dim: local().vectors(namespace, dim)  # noqa: E731
        if self.backends["graph"] == "neptune":
            graph = self._neptune(workspace)
        elif self.backends["graph"] == "dynamodb":
            graph = self._dynamodb_graph(workspace)
        elif not state_embedded:
            graph = lambda: local().graph()  # noqa: E731

        async def close_local() -> None:  # an embedded store opened beside DynamoDB state
            if embedded:
                await embedded.pop().close()

        closers = [] if state_embedded else [close_local]
        return CompositeStorageFactory(base, vectors=vectors, graph=graph, closers=closers)

    def _opensearch(self, workspace: str) -> Callable[[str, int], Any]:
        from lambdarag.storage.opensearch import make_client, open_vectors

        if "opensearch" not in self._shared:
            settings = self.adapters["opensearch"]
            self._shared["opensearch"] = (settings, make_client(settings))
        settings, client = self._shared["opensearch"]
        return open_vectors(settings, workspace, client=client)

    def _neptune(self, workspace: str) -> Callable[[], Any]:
        from lambdarag.storage.neptune import GremlinRunner, NeptuneGraphStorage

        if "neptune" not in self._shared:
            self._shared["neptune"] = GremlinRunner(self.adapters["neptune"])
        runner = self._shared["neptune"]
        return lambda: NeptuneGraphStorage(runner, workspace)

    def _s3vectors(self, workspace: str, state: StorageFactory) -> Callable[[str, int], Any]:
        """S3 Vectors stores; items over the metadata budget go to the state's KV store."""
        from lambdarag.storage.s3vectors import S3VectorsBucket, S3VectorsStorage

        if "s3vectors" not in self._shared:
            self._shared["s3vectors"] = S3VectorsBucket(self.adapters["s3vectors"])
        bucket = self._shared["s3vectors"]
        return lambda namespace, dim: S3VectorsStorage(
            bucket, workspace, namespace, dim, overflow=state.kv(f"vector_overflow_{namespace}"))

    def _dynamodb_graph(self, workspace: str) -> Callable[[], Any]:
        from lambdarag.storage.dynamodb import make_client
        from lambdarag.storage.dynamodb.graph import DynamoDBGraphStorage, GraphTable

        if "dynamodb_graph" not in self._shared:
            settings = self.adapters["dynamodb_graph"]
            self._shared["dynamodb_graph"] = GraphTable(make_client(settings), settings)
        table = self._shared["dynamodb_graph"]
        return lambda: DynamoDBGraphStorage(table, workspace)

    def workspaces(self) -> list[str]:
        """Workspaces with stored data, asked of the state backend (module docstring)."""
        if self.backends["kv"] == "dynamodb":
            return _dynamodb_state(self._shared, self.adapters["dynamodb"]).workspaces()
        from lambdarag.storage.embedded import stored_workspaces

        return stored_workspaces(self.working_dir)

    async def aclose(self) -> None:
        """Close the shared clients (after every workspace factory has closed)."""
        shared, self._shared = self._shared, {}
        if "opensearch" in shared:
            await shared["opensearch"][1].close()
        if "neptune" in shared:
            await shared["neptune"].close()
        if "dynamodb" in shared:
            await shared["dynamodb"].aclose()
        if "s3vectors" in shared:
            shared["s3vectors"].close()
        if "dynamodb_graph" in shared:
            shared["dynamodb_graph"].client.close()


# --- DynamoDB state ------------------------------------------------------------------------
class _DynamoDBState:
    """Adapter from ``lambdarag.storage.dynamodb`` to what StorageSelection needs.

    ``open(workspace)`` returns the workspace's DynamoDBStorageFactory (KV, doc status,
    fragments; the selection adds vectors and graph) on one boto3 client shared by every
    workspace; ``workspaces()`` lists the workspaces that hold documents (one Query of the
    adapter's workspace registry, never a Scan).
    """

    def __init__(self, settings: Any) -> None:
        from lambdarag.storage import dynamodb

        self._module = dynamodb
        self._settings = settings
        self._client = dynamodb.make_client(self._settings)

    def open(self, workspace: str) -> StorageFactory:
        factory: StorageFactory = self._module.DynamoDBStorageFactory(
            self._settings, workspace, client=self._client
        )
        return factory

    def workspaces(self) -> list[str]:
        return self._module.stored_workspaces(self._settings, self._client)

    async def aclose(self) -> None:
        self._client.close()


def _dynamodb_state(shared: dict[str, Any], settings: Any) -> _DynamoDBState:
    if "dynamodb" not in shared:
        shared["dynamodb"] = _DynamoDBState(settings)
    state: _DynamoDBState = shared["dynamodb"]
    return state
