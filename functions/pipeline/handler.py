"""Step Functions task entry points: one thin handler per pipeline step.

Each handler validates the task input, runs the engine's step function of the same
name on the document's workspace, and returns the step's small JSON result.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lambdarag import pipeline
from lambdarag.config import load_settings
from lambdarag.engine import Engine

# One event loop and one Engine per execution environment, reused while warm: the
# bindings' HTTP clients and semaphores belong to the loop that created them.
_loop = asyncio.new_event_loop()
_engine: Engine | None = None


def _get_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = Engine(load_settings())
    return _engine


async def _run(step: str, event: dict[str, Any]) -> dict[str, Any]:
    if "doc_id" not in event:
        raise ValueError(f"{step}: task input must carry doc_id")
    engine = _get_engine()
    ws = await engine.workspace(event.get("workspace", ""))
    return await pipeline.STEPS[step](ws, event)


def _handler(step: str):  # noqa: ANN202 - returns a Lambda handler
    def handle(event: dict[str, Any], context: object) -> dict[str, Any]:
        return _loop.run_until_complete(_run(step, event))

    handle.__name__ = f"{step}_handler"
    return handle


prepare_handler = _handler("prepare")
extract_handler = _handler("extract")
merge_handler = _handler("merge")
finalize_handler = _handler("finalize")
fail_handler = _handler("fail")
