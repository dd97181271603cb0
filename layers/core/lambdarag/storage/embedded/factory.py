"""The embedded (single SQLite file per workspace) storage backend."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from lambdarag.storage import base
from lambdarag.storage.base import StorageError, StorageFactory
from lambdarag.storage.embedded import doc_status, fragments, graph, kv, vector
from lambdarag.storage.embedded.db import Database

logger = logging.getLogger(__name__)

DB_FILENAME = "lambdarag.sqlite3"
_WORKSPACE_PATTERN = re.compile(r"[\w-][\w.-]*")


class EmbeddedStorageFactory(StorageFactory):
    """Opens the stores of one workspace, all backed by one SQLite database.

    The file is ``<working_dir>/<workspace>/lambdarag.sqlite3`` (or
    ``<working_dir>/lambdarag.sqlite3`` for the empty workspace). Store objects
    are cached: asking twice for the same store returns the same object.
    """

    def __init__(self, working_dir: str | Path, workspace: str) -> None:
        if workspace and not _WORKSPACE_PATTERN.fullmatch(workspace):
            raise ValueError(
                f"workspace {workspace!r} must be letters, digits, '_', '-' or '.' "
                "and must not start with '.'"
            )
        self.workspace = workspace
        directory = Path(working_dir) / workspace if workspace else Path(working_dir)
        self.path = directory / DB_FILENAME
        self._db = Database(
            self.path,
            schema=(kv.SCHEMA, doc_status.SCHEMA, fragments.SCHEMA, vector.SCHEMA, graph.SCHEMA,
                    graph.add_weight_column, graph.INDEXES),
        )
        self._kv: dict[str, kv.SqliteKVStorage] = {}
        self._vectors: dict[str, vector.SqliteVectorStorage] = {}
        self._doc_status: doc_status.SqliteDocStatusStorage | None = None
        self._fragments: fragments.SqliteFragmentStorage | None = None
        self._graph: graph.SqliteGraphStorage | None = None

    def kv(self, namespace: str) -> base.KVStorage:
        if namespace not in self._kv:
            self._kv[namespace] = kv.SqliteKVStorage(self._db, namespace)
        return self._kv[namespace]

    def doc_status(self) -> base.DocStatusStorage:
        if self._doc_status is None:
            self._doc_status = doc_status.SqliteDocStatusStorage(self._db)
        return self._doc_status

    def fragments(self) -> base.FragmentStorage:
        if self._fragments is None:
            self._fragments = fragments.SqliteFragmentStorage(self._db)
        return self._fragments

    def vectors(self, namespace: str, dim: int) -> base.VectorStorage:
        """The namespace's store; asking again with another ``dim`` raises StorageError."""
        store = self._vectors.get(namespace)
        if store is None:
            store = self._vectors[namespace] = vector.SqliteVectorStorage(self._db, namespace, dim)
        elif store.dim != dim:
            raise StorageError(
                f"vector namespace {namespace!r} is open with dim {store.dim}, asked for {dim}"
            )
        return store

    def graph(self) -> base.GraphStorage:
        if self._graph is None:
            self._graph = graph.SqliteGraphStorage(self._db)
        return self._graph

    async def close(self) -> None:
        await self._db.close()
        logger.debug("closed workspace %r at %s", self.workspace, self.path)


def stored_workspaces(working_dir: str | Path) -> list[str]:
    """Workspaces that have a database under ``working_dir`` ("" for the root one)."""
    root = Path(working_dir)
    found = [""] if (root / DB_FILENAME).exists() else []
    if root.is_dir():
        found += sorted(
            p.name for p in root.iterdir()
            if (p / DB_FILENAME).exists() and _WORKSPACE_PATTERN.fullmatch(p.name)
        )
    return found
