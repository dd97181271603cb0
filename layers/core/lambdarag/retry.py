"""The one retry policy of the engine: exponential backoff with full jitter, on tenacity.

LLM and embedding bindings (:mod:`lambdarag.llm.retry`), the Neptune adapter, the
OpenSearch adapter's throttled bulk items, the DynamoDB adapter's unprocessed batch items
(:func:`retrying_sync`, in its worker threads) and the pipeline status record's
compare-and-set all retry through :func:`retrying`, so a wait
grows the same way everywhere: the first wait is at most ``base`` seconds, the bound
doubles per attempt up to ``cap``, the wait is drawn uniformly below it (full jitter), and
a server's ``Retry-After`` is never undercut. Callers say what is worth retrying, how
many attempts they have, and what to log.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, bounded below by ``Retry-After``.

    Parameters
    ----------
    base:
        Upper bound of the first wait in seconds; it doubles on every attempt.
    cap:
        Largest upper bound of a jittered wait.
    retry_after_cap:
        Largest wait a ``Retry-After`` header can ask for.

    Examples
    --------
    >>> Backoff(base=0.01, cap=0.05).delay(attempt=1, retry_after=None) <= 0.01
    True
    """

    base: float = 0.5
    cap: float = 30.0
    retry_after_cap: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        jittered = random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))
        if retry_after is None:
            return jittered
        return max(jittered, min(retry_after, self.retry_after_cap))


def retrying(
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool],
    attempts: int,
    backoff: Backoff,
    retry_after: Callable[[BaseException], float | None] | None = None,
    on_retry: Callable[[RetryCallState], None] | None = None,
    reraise: bool = True,
) -> AsyncRetrying:
    """The policy as a tenacity ``AsyncRetrying``: ``await retrying(...)(call)``.

    ``retry_on`` is the exception types worth retrying, or a predicate; ``retry_after``
    reads a server's requested wait from the failure; ``on_retry`` runs before each wait
    (logging). With ``reraise`` the last failure propagates, else ``tenacity.RetryError``.
    """
    return AsyncRetrying(**_policy(retry_on, attempts, backoff, retry_after, on_retry, reraise))


def retrying_sync(
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool],
    attempts: int,
    backoff: Backoff,
    on_retry: Callable[[RetryCallState], None] | None = None,
    reraise: bool = True,
) -> Retrying:
    """The same policy for blocking code (a worker thread): ``retrying_sync(...)(call)``."""
    return Retrying(**_policy(retry_on, attempts, backoff, None, on_retry, reraise))


def _policy(
    retry_on: type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool],
    attempts: int,
    backoff: Backoff,
    retry_after: Callable[[BaseException], float | None] | None,
    on_retry: Callable[[RetryCallState], None] | None,
    reraise: bool,
) -> dict[str, Any]:
    if isinstance(retry_on, type | tuple):
        kinds = retry_on

        def predicate(exc: BaseException) -> bool:
            return isinstance(exc, kinds)
    else:
        predicate = retry_on

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        hint = retry_after(failure) if retry_after is not None and failure is not None else None
        return backoff.delay(state.attempt_number, hint)

    return {"stop": stop_after_attempt(attempts), "wait": wait,
            "retry": retry_if_exception(predicate), "before_sleep": on_retry, "reraise": reraise}
