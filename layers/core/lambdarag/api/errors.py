"""How the engine's failures read over HTTP: the one mapping, used by the app's one handler.

Every error the engine raises on purpose is a :class:`~lambdarag.errors.LambdaRAGError`
whose class carries its ``http_status``. :func:`api_error` turns it into the answer:
the status and the message as ``detail``; a store's failure gets words and
``Retry-After``; anything that answers 500 is left to the internal-error handler, which
shows an id instead of internals.
"""

from __future__ import annotations

from lambdarag.api.auth import ApiError
from lambdarag.errors import LambdaRAGError, http_status
from lambdarag.storage.base import StorageError, StoreThrottledError, VersionConflictError


def api_error(exc: LambdaRAGError) -> ApiError | None:
    """The answer for ``exc``; None when it is an internal error (500)."""
    if isinstance(exc, StorageError):
        return storage_error(exc)
    status = http_status(exc)
    if status >= 500 and status not in (502, 503):
        return None
    return ApiError(status, str(exc))


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
