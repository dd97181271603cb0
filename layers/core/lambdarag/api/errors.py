"""How the engine's failures read over HTTP, shared by every route family."""

from __future__ import annotations

from lambdarag.api.auth import ApiError
from lambdarag.storage.base import StorageError, StoreThrottledError, VersionConflictError


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
