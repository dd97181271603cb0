"""Step Functions task entry points: one thin handler per pipeline step.

Each handler validates the task input (``doc_id`` and ``workspace``; a Map item also
carries its batch or shard), runs the engine's step function of the same name on the
document's workspace, and returns the step's small JSON result. An exception leaves
the handler unchanged: Lambda reports it as ``{"errorType": <class name>, ...}`` and the
state machine's Retry/Catch match that class name (infra/statemachine.asl.json).

Powertools: structured logs carrying ``doc_id``/``workspace``/``step``; a trace segment per
invocation (Tracer switches itself off outside Lambda, where no X-Ray daemon listens, or
with ``POWERTOOLS_TRACE_DISABLED=true``); CloudWatch EMF metrics in
``POWERTOOLS_METRICS_NAMESPACE`` (default ``LambdaRAG``) with a ``step`` dimension:
``StepDuration``, ``StepErrors``, the counts in the step's result, and the LLM calls,
cache hits and prompt/completion tokens the step spent (per document: sum by doc_id in
the logs, or by execution).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if os.environ.get("LAMBDARAG_SECRET_ARN"):
    from lambdarag.serverless.bootstrap import load_secrets

    load_secrets()

from aws_lambda_powertools import Logger, Tracer  # noqa: E402
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit  # noqa: E402

from lambdarag.config import load_settings  # noqa: E402
from lambdarag.errors import as_step_error  # noqa: E402
from lambdarag.pipeline import runner  # noqa: E402
from lambdarag.runtime.aws import build_engine  # noqa: E402
from lambdarag.serverless.steps import run_step  # noqa: E402
from lambdarag.utils import check_workspace_name  # noqa: E402

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from lambdarag.runtime.engine import Engine

Event = dict[str, Any]
Handler = Callable[[Event, "LambdaContext"], Event]

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "lambdarag-pipeline"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "LambdaRAG"
MAX_DOC_ID = 256

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
# EphemeralMetrics keeps its metrics on the instance (Metrics shares them class-wide): several
# copies of this module may run side by side in one test process, one per emulated environment.
metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)

# Result keys reported as metrics (prepare's ``chunk_count`` and extract's ``chunks`` are both chunks).
_COUNTS = {"chunk_count": "Chunks", "chunks": "Chunks", "entities": "Entities",
           "relations": "Relations", "merged": "Merged", "llm_summaries": "LLMSummaries"}

# One event loop and one Engine per execution environment, reused while warm: the
# bindings' HTTP clients and semaphores belong to the loop that created them.
_loop = asyncio.new_event_loop()
_engine: Engine | None = None


def _get_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = build_engine(load_settings())
    return _engine


def _validated(step: str, event: object) -> Event:
    """The task input, or a ValueError naming the field that is missing or wrong."""
    if not isinstance(event, dict):
        raise ValueError(f"{step}: task input must be a JSON object, got {type(event).__name__}")
    doc_id = event.get("doc_id")
    if not isinstance(doc_id, str) or not doc_id.strip() or len(doc_id) > MAX_DOC_ID:
        raise ValueError(
            f"{step}: task input must carry doc_id, a non-empty string of at most "
            f"{MAX_DOC_ID} characters (got {doc_id!r})"
        )
    workspace = event.get("workspace", "")
    if not isinstance(workspace, str):
        raise ValueError(f"{step}: task input field workspace must be a string (got {workspace!r})")
    if workspace:
        try:
            check_workspace_name(workspace)
        except ValueError as exc:
            raise ValueError(f"{step}: task input field workspace is invalid: {exc}") from exc
    return event


def failure_reason(error: object) -> str:
    """The error_msg for a Catch result ``{"Error", "Cause"}``, worded as the local runner words it.

    A Lambda error's Cause is the JSON Lambda returned (``errorMessage``, ``errorType``,
    ``stackTrace``); Step Functions' own errors (``States.Timeout``, ...) carry plain text.
    """
    if not isinstance(error, dict):
        return str(error or "unknown error")
    name = str(error.get("Error") or "")
    cause = error.get("Cause")
    try:
        parsed = json.loads(cause) if isinstance(cause, str) else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and ("errorMessage" in parsed or "errorType" in parsed):
        error_type = str(parsed.get("errorType") or name or "Error")
        message = str(parsed.get("errorMessage") or error_type)
        return message if error_type in runner.user_facing_error_names() else f"{error_type}: {message}"
    if cause:
        return f"{name}: {cause}" if name else str(cause)
    return name or "unknown error"


def _summary(result: Event) -> Event:
    """The result without prepare's fan-out plan (it can hold hundreds of items)."""
    return {k: v for k, v in result.items() if not isinstance(v, list)}


async def _run(step: str, event: Event, usage: dict[str, int]) -> Event:
    """Run the step; ``usage`` receives the LLM calls and tokens it spent."""
    engine = _get_engine()
    ws = await engine.workspace(event.get("workspace", ""))
    if step == "fail":
        event = {**event, "error": failure_reason(event.get("error"))}
    before = ws.llm.usage.as_dict()
    try:
        return await run_step(ws, step, event)
    finally:
        usage.update({k: v - before.get(k, 0) for k, v in ws.llm.usage.as_dict().items()})


# LLM usage of the step (llm_cache.LLMUsage fields) reported as metrics.
_USAGE = {"calls": "LLMCalls", "cache_hits": "LLMCacheHits", "prompt_tokens": "PromptTokens",
          "completion_tokens": "CompletionTokens"}


def _record(step: str, result: Event | None, started: float, usage: dict[str, int]) -> None:
    metrics.add_dimension(name="step", value=step)
    metrics.add_metric(name="StepDuration", unit=MetricUnit.Milliseconds,
                       value=(time.perf_counter() - started) * 1000)
    metrics.add_metric(name="StepErrors", unit=MetricUnit.Count, value=0 if result is not None else 1)
    for key, name in _COUNTS.items():
        value = (result or {}).get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for key, name in _USAGE.items():
        if key in usage:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=usage[key])


def _label(step: str, event: object) -> str:
    """The step as logged and measured: merge is split by phase (entities / relations)."""
    phase = event.get("phase") if isinstance(event, dict) else None
    return f"{step}_{phase}" if step == "merge" and isinstance(phase, str) else step


def _handler(step: str) -> Handler:
    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handle(event: Event, context: LambdaContext) -> Event:
        started, label = time.perf_counter(), _label(step, event)
        result: Event | None = None
        usage: dict[str, int] = {}
        # The metrics are added in ``finally``, also on failure: log_metrics never meets an
        # empty set, so it never warns.
        try:
            task = _validated(step, event)
            logger.thread_safe_append_keys(
                doc_id=task["doc_id"], workspace=task.get("workspace", ""), step=label
            )
            tracer.put_annotation(key="doc_id", value=task["doc_id"])
            result = _loop.run_until_complete(_run(step, task, usage))
            logger.info("step done", extra={"result": _summary(result)})
            return result
        except Exception as exc:
            logger.exception("step failed")
            # Reported under the name the state machine's Retry/Catch match (lambdarag.errors).
            reported = as_step_error(exc)
            if reported is exc:
                raise
            raise reported from exc
        finally:
            _record(label, result, started, usage)

    handle.__name__ = f"{step}_handler"
    return handle


prepare_handler = _handler("prepare")
extract_handler = _handler("extract")
merge_handler = _handler("merge")
finalize_handler = _handler("finalize")
fail_handler = _handler("fail")
