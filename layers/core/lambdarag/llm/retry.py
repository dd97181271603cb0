"""How the bindings retry (the engine's one policy, :mod:`lambdarag.retry`), and the errors
a user sees when it gives up.

A provider call is retried when the failure is transient: HTTP 429, 500, 502, 503, 504,
529, a dropped connection or a timeout. Waits grow exponentially with full jitter and
never undercut a ``Retry-After`` header. Everything else fails at once with an error
that names the setting to fix.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
from tenacity import RetryCallState

from lambdarag.llm.base import (
    EmbeddingConfig,
    LLMConfig,
    LLMConfigError,
    LLMResponseError,
    LLMUnavailableError,
)
from lambdarag.retry import Backoff, retrying

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True)
class Target:
    """The provider endpoint of a binding, named as the user configured it."""

    label: str  # "LLM" or "Embedding"
    prefix: str  # settings prefix: "LLM" or "EMBEDDING"
    host: str
    host_setting: str
    model: str
    timeout: float

    @classmethod
    def of(
        cls, config: LLMConfig | EmbeddingConfig, *, host: str = "", host_setting: str = ""
    ) -> Target:
        is_llm = isinstance(config, LLMConfig)
        return cls(
            label="LLM" if is_llm else "Embedding",
            prefix="LLM" if is_llm else "EMBEDDING",
            host=host or config.host,
            host_setting=host_setting or config.host_setting,
            model=config.model,
            timeout=config.timeout,
        )

    @property
    def model_setting(self) -> str:
        return f"{self.prefix}_MODEL"

    @property
    def key_setting(self) -> str:
        return f"{self.prefix}_BINDING_API_KEY"

    @property
    def where(self) -> str:
        return f"{self.label} host {self.host} ({self.host_setting})"


class TransientError(Exception):
    """A failure worth retrying; ``problem`` and ``hint`` become the final message."""

    def __init__(self, problem: str, hint: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint
        self.retry_after = retry_after


async def with_retries(
    call: Callable[[], Awaitable[T]], *, target: Target, max_retries: int, backoff: Backoff
) -> T:
    """Await ``call()``, retrying it on :class:`TransientError` up to ``max_retries`` times.

    Raises :class:`LLMUnavailableError` (one line: host, setting, cause, what to do) when
    the retries run out; any other error propagates unchanged.
    """

    async def attempt() -> T:
        return await call()

    policy = retrying(
        retry_on=TransientError,
        attempts=max_retries + 1,
        backoff=backoff,
        retry_after=lambda exc: exc.retry_after if isinstance(exc, TransientError) else None,
        on_retry=lambda state: _log_retry(state, target, max_retries),
    )
    try:
        return await policy(attempt)
    except TransientError as exc:
        attempts = int(policy.statistics.get("attempt_number", 1))
        tried = f" ({attempts} attempts)" if attempts > 1 else ""
        raise LLMUnavailableError(f"{target.where} {exc.problem}{tried}; {exc.hint}") from exc


def _failure(state: RetryCallState) -> TransientError:
    exc = state.outcome.exception() if state.outcome else None
    return exc if isinstance(exc, TransientError) else TransientError("failed", "")


def _log_retry(state: RetryCallState, target: Target, max_retries: int) -> None:
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "%s %s; retry %d/%d in %.2f s",
        target.where,
        _failure(state).problem,
        state.attempt_number,
        max_retries,
        wait,
    )


def check_response(response: httpx.Response, target: Target) -> None:
    """Raise the right error for a failed HTTP response; return for a 2xx/3xx one."""
    status = response.status_code
    if status < 400:
        return
    text = error_text(response)
    if status in RETRYABLE_STATUSES:
        raise TransientError(
            f"kept failing with HTTP {status}: {text}",
            "the provider is overloaded or down; try again later",
            parse_retry_after(response.headers.get("retry-after")),
        )
    if status in (401, 403):
        raise LLMConfigError(
            f"{target.where} rejected the API key ({target.key_setting}): HTTP {status}: {text}"
        )
    if status == 404:
        raise LLMConfigError(
            f"{target.label} model {target.model!r} ({target.model_setting}) was not found at "
            f"{target.host} (HTTP 404: {text}); check {target.model_setting} and "
            f"{target.host_setting}"
        )
    raise LLMResponseError(f"{target.where} refused the request: HTTP {status}: {text}")


def error_text(response: httpx.Response) -> str:
    """The provider's error message, from its JSON error body when there is one, trimmed."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("error", body.get("detail")) if isinstance(body, dict) else None
    if isinstance(message, dict):
        message = message.get("message", message)
    return trim(str(message) if message else response.text) or response.reason_phrase


def trim(text: str, limit: int = ERROR_TEXT_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def transport_error(exc: httpx.TransportError, target: Target) -> TransientError:
    """Describe a connection failure or timeout as a retryable error."""
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(
            f"did not answer within {target.timeout:g} s ({type(exc).__name__})",
            f"check the server or raise {target.prefix}_TIMEOUT",
        )
    if isinstance(exc, httpx.ConnectError):
        return TransientError(
            f"is unreachable: {connect_failure(exc)}", "check that the server is running"
        )
    return TransientError(
        f"dropped the connection: {exc or type(exc).__name__}", "check the server logs"
    )


def connect_failure(exc: BaseException) -> str:
    """The root cause of a failed connect, e.g. ``connection refused``."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"host name not found ({cause})"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__
