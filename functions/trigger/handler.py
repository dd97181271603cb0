"""S3 drop-folder trigger: EventBridge "Object Created" / "Object Deleted" events.

An object created under the input prefix is registered as a PENDING document and gets
its indexing execution (named from the document id, so a repeated event starts
nothing); an object deleted deletes the documents that came from it. The API also
invokes this function asynchronously with ``Delete Documents`` jobs (serverless.jobs),
so deletes run with this function's 15 minutes instead of the API's 30 seconds. The
stack's ``StoreSetup`` custom resource invokes it too, to create the stores' indexes ahead
(serverless.setup).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

if os.environ.get("LAMBDARAG_SECRET_ARN"):
    from lambdarag.serverless.bootstrap import load_secrets

    load_secrets()

from lambdarag.config import load_settings  # noqa: E402 - settings read after the secret
from lambdarag.runtime.aws import build_engine  # noqa: E402
from lambdarag.serverless import ingest, jobs, s3, setup  # noqa: E402

if TYPE_CHECKING:
    from lambdarag.runtime.engine import Engine

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "lambdarag-trigger")
_loop = asyncio.new_event_loop()
_engine: Engine | None = None
ACTIONS = {"Object Created": ingest.object_created, "Object Deleted": ingest.object_deleted}


class UnsupportedEventError(ValueError):
    """The event is not an EventBridge S3 object event of the input bucket."""


def _engine_once() -> Engine:
    global _engine
    if _engine is None:
        _engine = build_engine(load_settings())
    return _engine


def parse(event: dict[str, Any]) -> tuple[str, str, str]:
    """(detail-type, bucket, decoded key) of an EventBridge S3 event."""
    kind = event.get("detail-type")
    if event.get("source") != "aws.s3" or kind not in ACTIONS:
        raise UnsupportedEventError(
            f"expected an aws.s3 'Object Created' or 'Object Deleted' event, got "
            f"source={event.get('source')!r} detail-type={kind!r}"
        )
    detail = event.get("detail") or {}
    bucket = (detail.get("bucket") or {}).get("name")
    key = (detail.get("object") or {}).get("key")
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise UnsupportedEventError("the event's detail lacks bucket.name or object.key")
    return kind, bucket, s3.event_key(key)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    if setup.is_request(event):
        logger.append_keys(event=f"CloudFormation {event['RequestType']}")
        done = _loop.run_until_complete(setup.handle(_engine_once(), event))
        logger.info("store setup answered", extra=done.as_dict())
        return done.as_dict()
    if isinstance(event, dict) and event.get("source") == jobs.SOURCE:
        job = jobs.DeleteJob.from_event(event)
        engine = _engine_once()
        logger.append_keys(workspace=job.workspace, event=jobs.DELETE_DOCUMENTS)
        result = _loop.run_until_complete(
            ingest.delete_job(engine, job, engine.settings.input_dir)
        )
        logger.info("delete job handled", extra=result.as_dict())
        return result.as_dict()
    kind, bucket, key = parse(event)
    engine = _engine_once()
    expected = engine.settings.lambdarag_input_bucket
    if expected and bucket != expected:
        raise UnsupportedEventError(f"event for bucket {bucket!r}, not the input bucket {expected!r}")
    logger.append_keys(bucket=bucket, key=key, event=kind)
    result = _loop.run_until_complete(
        ACTIONS[kind](engine, bucket, key, engine.settings.lambdarag_input_prefix)
    )
    logger.info("drop folder event handled", extra=result.as_dict())
    return result.as_dict()
