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

import pytest

from lambdarag.storage.base import StorageFactory

MakeFactory = Callable[[str], StorageFactory]
BackendContext = Callable[[Path], AbstractAsyncContextManager[MakeFactory]]

WORKSPACE = "contract"
BACKENDS_ENV = "LAMBDARAG_CONTRACT_BACKENDS"


@asynccontextmanager
async def embedded_backend(tmp_path: Path) -> AsyncIterator[MakeFactory]:
    """SQLite files under ``tmp_path``."""
    from lambdarag.storage.embedded import EmbeddedStorageFactory

    opened: list[StorageFactory] = []

    def make(workspace: str) -> StorageFactory:
        factory = EmbeddedStorageFactory(tmp_path / "rag_storage", workspace)
        opened.append(factory)
        return factory

    try:
        yield make
    finally:
        for factory in opened:
            await factory.close()


BACKENDS: dict[str, BackendContext] = {
    "embedded": embedded_backend,
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
