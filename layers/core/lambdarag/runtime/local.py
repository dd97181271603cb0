"""The local runtime's composition root: in-process indexing, the INPUT_DIR folder.

``lambdarag serve``, the CLI and the tests build their Engine here (through
:func:`lambdarag.runtime.build_engine`); nothing here imports an AWS library.
"""

from __future__ import annotations

from typing import Any

from lambdarag.config import Settings
from lambdarag.documents.local import BackgroundDeletes, FolderInputStore
from lambdarag.pipeline.runner import LocalRunner
from lambdarag.runtime.engine import Engine, RuntimePorts


def local_ports(settings: Settings) -> RuntimePorts:
    return RuntimePorts(
        runner=lambda open_workspace: LocalRunner(open_workspace, settings.max_parallel_insert),
        inputs=FolderInputStore(),
        deletes=BackgroundDeletes(),
    )


def build_engine(settings: Settings, **overrides: Any) -> Engine:
    """The Engine of a local process; ``overrides`` are the Engine's own keywords."""
    return Engine(settings, ports=local_ports(settings), **overrides)
