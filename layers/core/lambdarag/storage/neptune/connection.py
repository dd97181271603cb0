"""Connecting to Neptune (or any TinkerPop 3.7 Gremlin Server) and running traversals.

gremlinpython's ``DriverRemoteConnection`` is synchronous: :class:`GremlinRunner` runs
every traversal in a worker thread (``asyncio.to_thread``) so the event loop never
blocks. Neptune commits each traversal sent without a session as one transaction, and
concurrent writers to the same elements can fail with ``ConcurrentModificationException``:
those failures (and Neptune's other retryable ones) are retried with exponential backoff
and full jitter. Every write the adapter sends is idempotent, so a retry is always safe.

With IAM authentication the WebSocket upgrade request must carry a SigV4 signature for
the service ``neptune-db``; :func:`sigv4_headers` builds it with botocore. Neptune accepts
a signature for five minutes, and the driver re-opens pooled sockets with the headers it
was given, so with IAM auth :class:`GremlinRunner` replaces its connection (freshly
signed) every ``SIGNED_CONNECTION_MAX_AGE`` seconds. The replaced one is closed a grace
period later, once the traversals still running on it have finished.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tenacity import RetryCallState

from lambdarag.retry import Backoff, retrying
from lambdarag.storage.base import (
    StorageError,
    StoreThrottledError,
    StoreUnavailableError,
    VersionConflictError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

NEPTUNE_SERVICE = "neptune-db"
# Neptune's error codes that a retry can cure (docs: "Neptune Service Errors").
RETRYABLE_CODES = (
    "ConcurrentModificationException",
    "ReadOnlyViolationException",  # writer failed over; the next connection finds the new one
    "ThrottlingException",
    "MemoryLimitExceededException",
    "TooManyRequestsException",
)
_THROTTLED_CODES = ("ThrottlingException", "MemoryLimitExceededException", "TooManyRequestsException")


@dataclass(frozen=True)
class NeptuneConfig:
    """Where and how to reach the Gremlin endpoint.

    ``url`` is ``ws://host:8182/gremlin`` locally and ``wss://<cluster>:8182/gremlin`` on
    Neptune. ``iam_auth`` signs the WebSocket upgrade with SigV4 (``region`` required).
    """

    url: str
    traversal_source: str = "g"
    username: str = ""
    password: str = ""
    iam_auth: bool = False
    region: str = ""
    pool_size: int = 4
    batch_size: int = 50
    max_retries: int = 5
    backoff_base: float = 0.1
    backoff_cap: float = 5.0


def sigv4_headers(url: str, region: str, credentials: Any = None) -> dict[str, str]:
    """SigV4 headers (``Authorization``, ``X-Amz-Date``, ``Host``, ...) for the upgrade GET.

    ``credentials`` are botocore credentials; by default the session's (env, profile,
    instance or Lambda role). The signature covers the https form of ``url``.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    if credentials is None:
        import boto3

        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise StoreUnavailableError(f"Neptune {url}: IAM auth is on but no AWS credentials")
        credentials = credentials.get_frozen_credentials()
    if not region:
        raise StoreUnavailableError(f"Neptune {url}: IAM auth needs a region (AWS_REGION)")
    parts = urlsplit(url)
    scheme = "https" if parts.scheme in ("wss", "https") else "http"
    request = AWSRequest(method="GET", url=urlunsplit((scheme, *parts[1:])), data=None)
    SigV4Auth(credentials, NEPTUNE_SERVICE, region).add_auth(request)
    return dict(request.headers.items())


def connect(config: NeptuneConfig) -> Any:
    """A ``DriverRemoteConnection`` (blocking: call it from a worker thread)."""
    from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection

    headers = sigv4_headers(config.url, config.region) if config.iam_auth else None
    try:
        return DriverRemoteConnection(
            config.url,
            config.traversal_source,
            username=config.username,
            password=config.password,
            headers=headers,
            pool_size=config.pool_size,
        )
    except Exception as exc:  # aiohttp/socket errors vary by cause
        raise StoreUnavailableError(f"Gremlin endpoint {config.url} is unreachable: {exc}") from exc


def _error_text(exc: BaseException) -> str:
    """The message and Neptune's exception names of a failed traversal."""
    attributes = getattr(exc, "status_attributes", None) or {}
    return f"{exc} {attributes.get('exceptions', '')}"


def is_retryable(exc: BaseException) -> bool:
    """Whether Neptune says the traversal may succeed when sent again."""
    text = _error_text(exc)
    return any(code in text for code in RETRYABLE_CODES)


def translate(exc: BaseException, url: str) -> StorageError:
    """A traversal's failure (after the retries) as the storage error that says what it means.

    Concurrent modifications that outlived the retries are a lost race (retry the request);
    throttling and memory pressure mean back off; a read-only writer (failover) means the
    store is unavailable for now.
    """
    message = f"Gremlin endpoint {url} failed: {str(exc)[:500]}"
    text = _error_text(exc)
    if "ConcurrentModificationException" in text:
        return VersionConflictError(message)
    if any(code in text for code in _THROTTLED_CODES):
        return StoreThrottledError(message)
    if "ReadOnlyViolationException" in text:
        return StoreUnavailableError(message)
    return StorageError(message)


# A SigV4 signature is valid for 5 minutes: replace signed connections well before that,
# and close a replaced one once traversals still using it are surely done.
SIGNED_CONNECTION_MAX_AGE = 240.0
RETIRED_CONNECTION_GRACE = 60.0


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError | ConnectionError | asyncio.TimeoutError) or (
        type(exc).__module__.startswith("aiohttp")
    )


class GremlinRunner:
    """Runs blocking traversal calls off the event loop, with retries and error mapping.

    ``connection_factory`` is called lazily, in a worker thread (tests pass a fake): once,
    or with IAM auth again whenever the connection's signature nears its expiry.
    """

    def __init__(
        self,
        config: NeptuneConfig,
        connection_factory: Callable[[NeptuneConfig], Any] = connect,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._connection_factory = connection_factory
        self._clock = clock
        self._connection: Any = None
        self._opened_at = 0.0
        self._retired: list[tuple[float, Any]] = []  # (retired at, connection)
        self._lock = threading.Lock()

    def _remote(self) -> Any:
        with self._lock:
            now = self._clock()
            expired = now - self._opened_at >= SIGNED_CONNECTION_MAX_AGE
            if self._connection is not None and self.config.iam_auth and expired:
                self._retired.append((now, self._connection))
                self._connection = None
            if self._connection is None:
                self._connection = self._connection_factory(self.config)
                self._opened_at = now
            done = [c for t, c in self._retired if now - t >= RETIRED_CONNECTION_GRACE]
            self._retired = [(t, c) for t, c in self._retired if now - t < RETIRED_CONNECTION_GRACE]
            connection = self._connection
        for old in done:
            _close_quietly(old)
        return connection

    def source(self) -> Any:
        """A traversal source ``g`` bound to the connection (blocking)."""
        from gremlin_python.process.anonymous_traversal import traversal

        return traversal().with_remote(self._remote())

    async def run(self, call: Callable[[Any], T]) -> T:
        """``call(g)`` in a worker thread; retried on Neptune's retryable errors."""

        def attempt_sync() -> T:
            try:
                return call(self.source())
            except StorageError:
                raise
            except Exception as exc:
                if _is_connection_error(exc):
                    raise StoreUnavailableError(
                        f"Gremlin endpoint {self.config.url} is unreachable: {exc}"
                    ) from exc
                raise

        async def attempt() -> T:
            return await asyncio.to_thread(attempt_sync)

        policy = retrying(
            retry_on=is_retryable,
            attempts=self.config.max_retries + 1,
            backoff=Backoff(base=self.config.backoff_base, cap=self.config.backoff_cap),
            on_retry=self._log_retry,
        )
        try:
            return await policy(attempt)
        except StorageError:
            raise
        except Exception as exc:
            raise translate(exc, self.config.url) from exc

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "Gremlin %s: %s; retry %d/%d in %.2f s",
            self.config.url,
            str(exc)[:200],
            state.attempt_number,
            self.config.max_retries,
            wait,
        )

    async def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
            retired, self._retired = [c for _, c in self._retired], []
        for old in retired:
            await asyncio.to_thread(_close_quietly, old)
        if connection is not None:
            await asyncio.to_thread(connection.close)


def _close_quietly(connection: Any) -> None:
    """Close a replaced connection; its failure to close must not fail a traversal."""
    try:
        connection.close()
    except Exception as exc:  # the socket may already be gone
        logger.debug("closing a replaced Gremlin connection failed: %s", exc)
