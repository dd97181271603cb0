"""API Lambda entry point: the FastAPI app behind API Gateway (REST v1 or HTTP v2), via Mangum.

The app is built at init and its lifespan (the Engine: bindings, workspaces, runner) is
entered once, on the first invocation, then kept for the life of the execution
environment. Mangum's own lifespan support ("auto"/"on") would start and close a new
Engine around every single request. Init connects to nothing: with DynamoDB state the
lifespan lists workspaces, so that happens in the first request, not in the init phase.
No Powertools Logger: it costs ~60 ms of init (it imports botocore); set the function's
LoggingConfig LogFormat to JSON for structured logs instead (bench/bench_lambda.py).
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AbstractAsyncContextManager
from typing import Any

from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

if os.environ.get("LAMBDARAG_SECRET_ARN"):
    from lambdarag.serverless.bootstrap import load_secrets

    load_secrets()

from lambdarag.api.app import create_app  # noqa: E402 - after the secrets are in the env
from lambdarag.config import load_settings  # noqa: E402

app = create_app(load_settings())
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
# application/x-ndjson is text: sent as is, so a REST API needs no binaryMediaTypes for it.
asgi = Mangum(app, lifespan="off",
              text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, "application/x-ndjson"])
_lifespan: AbstractAsyncContextManager[Any] | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _lifespan
    asyncio.set_event_loop(loop)  # the runner's tasks live on this loop; Mangum uses the current
    if _lifespan is None:
        starting = app.router.lifespan_context(app)
        loop.run_until_complete(starting.__aenter__())
        _lifespan = starting
    return asgi(event, context)
