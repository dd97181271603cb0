"""The process runtime: the Engine and the composition roots that build it.

:func:`build_engine` is the one place that tells the runtimes apart: the serverless
settings (``Settings.serverless``) select :mod:`lambdarag.runtime.aws`, anything else
:mod:`lambdarag.runtime.local`. Both modules load only when called, so a cold Lambda
imports only its own runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambdarag.config import Settings
    from lambdarag.runtime.engine import Engine


def build_engine(settings: Settings, **overrides: Any) -> Engine:
    """The Engine for ``settings``' runtime; ``overrides`` are the Engine's own keywords."""
    if settings.serverless:
        from lambdarag.runtime import aws

        return aws.build_engine(settings, **overrides)
    from lambdarag.runtime import local

    return local.build_engine(settings, **overrides)
