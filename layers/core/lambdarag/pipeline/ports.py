"""The runner port: what indexes the documents a workspace has queued.

Locally :class:`~lambdarag.pipeline.runner.LocalRunner` runs the steps in-process; on AWS
the serverless runtime starts one Step Functions execution per document. The Engine
holds whichever the composition root (``lambdarag.runtime``) gave it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdarag.workspace.workspace import Workspace

WorkspaceOpener = Callable[[str], Awaitable["Workspace"]]


class Runner(ABC):
    """Indexes queued documents (already stored as PENDING), one workspace at a time."""

    @abstractmethod
    def start(self) -> None:
        """Start working (idempotent)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop working; documents not finished are resumed at the next start."""

    @abstractmethod
    async def submit(self, workspace: str, doc_ids: list[str]) -> object:
        """Queue documents of ``workspace`` for indexing."""

    @abstractmethod
    async def resume(self, workspace: str) -> int:
        """Queue what a previous run left unfinished; returns how many documents."""

    @abstractmethod
    async def wait_idle(self) -> None:
        """Return once every queued document has finished (where that can be known)."""

    @abstractmethod
    def is_busy(self, workspace: str) -> bool:
        """Whether this process indexes documents of ``workspace`` now."""
