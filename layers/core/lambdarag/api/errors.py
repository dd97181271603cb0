"""How the engine's failures read over HTTP, shared by every route family."""

from __future__ import annotations

from lambdarag.api.auth import ApiError
from lambdarag.llm.base import LLMError, LLMTimeoutError, LLMUnreachableError
from lambdarag.storage.base import StorageError, StoreThrottledError, VersionConflictError

PROVIDER_RETRY_AFTER = "5"


def storage_error(exc: StorageError) -> ApiError:
    """A store's failure in words: 409 for a lost concurrent write, else 503 naming the store.

    A missing index or graph never gets here (stores answer it as empty); a missing table
    the stack should have made does, as 503. Throttling and unavailability come with
    ``Retry-After``; the message is the adapter's, which names the store and what it was
    doing.
    """
    if isinstance(exc, VersionConflictError):
        return ApiError(409, f"A concurrent change won; retry the request ({exc})",
                        code="conflict")
    wait = "2" if isinstance(exc, StoreThrottledError) else "5"
    return ApiError(503, f"Storage is unavailable; retry later ({exc})",
                    code="storage_unavailable", headers={"Retry-After": wait})


def provider_error(exc: LLMError) -> ApiError:
    """An LLM, embedding or rerank provider's failure: 503, 504 or 502, naming its host.

    Unreachable (refused, unknown host, dropped) is 503 with ``Retry-After``; no answer
    within its timeout is 504; a provider that answered with an error, or with something
    unusable, is 502. The message is the binding's, the words of the start-up warning: the
    host, the setting that points at it, the cause and what to do.
    """
    detail = f"Provider error: {exc}"
    if isinstance(exc, LLMUnreachableError):
        return ApiError(503, detail, code="llm_error",
                        headers={"Retry-After": PROVIDER_RETRY_AFTER})
    if isinstance(exc, LLMTimeoutError):
        return ApiError(504, detail, code="llm_error")
    return ApiError(502, detail, code="llm_error")
