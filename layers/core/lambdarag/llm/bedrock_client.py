"""Running boto3 ``bedrock-runtime`` calls from asyncio, with the shared limit and retries.

boto3 is synchronous: calls run in a worker thread (``asyncio.to_thread``) and a
ConverseStream event stream is drained by a thread that hands events over through a
queue. botocore errors become the binding errors here, in one place. boto3 and botocore
are imported lazily so that importing ``lambdarag.llm`` never needs them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from lambdarag.llm.base import (
    LLMConfigError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnreachableError,
)
from lambdarag.llm.retry import Backoff, Target, TransientError, with_retries

T = TypeVar("T")

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "throttlingException",
        "serviceUnavailableException",
        "internalServerException",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "AccessDenied",
    }
)
_END = object()


def make_client(region: str | None, endpoint_url: str | None, timeout: float) -> Any:
    """A ``bedrock-runtime`` client with botocore's own retries off (ours apply instead)."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import NoRegionError
    except ImportError as exc:
        raise LLMConfigError(
            "the bedrock binding needs boto3: pip install 'lambdarag[aws]'"
        ) from exc
    config = Config(
        read_timeout=timeout,
        connect_timeout=min(timeout, 10.0),
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    try:
        return boto3.client(
            "bedrock-runtime", region_name=region, endpoint_url=endpoint_url, config=config
        )
    except NoRegionError as exc:
        raise LLMConfigError("no AWS region for Bedrock; set AWS_REGION") from exc


class BedrockCaller:
    """Runs calls of one boto3 client in threads, bounded by ``max_async``, with retries."""

    def __init__(
        self, client: Any, target: Target, *, max_async: int, max_retries: int, backoff: Backoff
    ) -> None:
        self.client = client
        self.target = target
        self.limit = asyncio.Semaphore(max_async)
        self._max_retries = max_retries
        self._backoff = backoff

    async def call(self, fn: Callable[[], T], *, hold_limit: bool = True) -> T:
        """Run ``fn`` in a thread with retries; ``hold_limit=False`` when the caller holds it."""

        async def attempt() -> T:
            if not hold_limit:
                return await asyncio.to_thread(self._translated, fn)
            async with self.limit:
                return await asyncio.to_thread(self._translated, fn)

        return await with_retries(
            attempt, target=self.target, max_retries=self._max_retries, backoff=self._backoff
        )

    async def events(self, stream: Any) -> AsyncIterator[dict[str, Any]]:
        """Iterate a botocore event stream in a thread, yielding its events in order."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def pump() -> None:
            try:
                for event in stream:
                    if stop.is_set():
                        break
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except Exception as exc:  # handed to the consumer, which raises it
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _END)

        worker = asyncio.ensure_future(asyncio.to_thread(pump))
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, Exception):
                    raise self._mid_stream_error(item) from item
                yield item
        finally:
            stop.set()
            if hasattr(stream, "close"):
                stream.close()
            await worker

    def _translated(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:
            error = translate_error(exc, self.target)
            if error is exc:
                raise
            raise error from exc

    def _mid_stream_error(self, exc: Exception) -> LLMError:
        error = translate_error(exc, self.target)
        if isinstance(error, TransientError):
            return error.final(self.target, " while streaming")
        return error


def translate_error(exc: Exception, target: Target) -> Exception:
    """The binding error (or :class:`TransientError`) for a botocore failure."""
    from botocore import exceptions as boto

    if isinstance(exc, boto.ClientError):
        return _client_error(exc, target)
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return LLMConfigError(f"no AWS credentials for Bedrock ({exc}); {_CREDENTIALS_HINT}")
    if isinstance(exc, boto.ReadTimeoutError | boto.ConnectTimeoutError):
        return TransientError(
            f"did not answer within {target.timeout:g} s",
            f"check the network or raise {target.prefix}_TIMEOUT",
            kind=LLMTimeoutError,
        )
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectionClosedError):
        return TransientError(f"is unreachable: {exc}", "check the region and the network",
                              kind=LLMUnreachableError)
    return exc


_CREDENTIALS_HINT = (
    "check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the "
    "execution role) and that the model is enabled for this account and region"
)


def _client_error(exc: Any, target: Target) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")) or code
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in RETRYABLE_CODES or status in (429, 500, 502, 503, 504):
        return TransientError(
            f"kept failing with {code or status}: {message}",
            "Bedrock is throttling or unavailable; try again later or lower MAX_ASYNC",
        )
    if code in CREDENTIAL_CODES:
        return LLMConfigError(
            f"AWS denied Bedrock model {target.model!r} ({code}: {message}); {_CREDENTIALS_HINT}"
        )
    if code == "ResourceNotFoundException":
        return LLMConfigError(
            f"Bedrock model {target.model!r} ({target.model_setting}) was not found: {message}"
        )
    return LLMResponseError(f"Bedrock rejected the request to {target.model!r}: {code}: {message}")
