"""Key locks shared by every process of a deployment: leases in a KV namespace.

In-process :class:`~lambdarag.storage.stores.KeyedLocks` serialise the merges of one key
inside one server. On AWS many Lambdas merge at once, so the same keys are also
leased in the store every process shares, with the KV contract's compare-and-set:

- a lease is the value ``{"owner", "nonce", "expires"}`` under the key's name; taking
  it is a ``put_if_version`` against the version read (absent, or expired);
- all keys of one ``hold`` are taken together or not at all: when any is held by
  someone else, those already taken are given back and the caller waits with
  jittered backoff (no hold-and-wait, so no deadlock between processes);
- a holder renews its leases every ``ttl / 3``; a process that dies stops renewing
  and its leases expire after ``ttl``, so a crash blocks a key for at most that long;
- a holder that finds a lease taken from it (it stalled for longer than ``ttl``)
  raises at release: its step fails and Step Functions runs it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from lambdarag.storage.base import (
    KVStorage,
    StorageError,
    StoreUnavailableError,
    VersionConflictError,
)
from lambdarag.storage.stores import KeyedLocks

logger = logging.getLogger(__name__)

DEFAULT_TTL = 60.0
DEFAULT_WAIT = 300.0
_BACKOFF_BASE, _BACKOFF_CAP = 0.05, 2.0


class LeaseLostError(StorageError):
    """A lease expired and was taken by another process while this one held it."""

    retryable = True


class SharedKeyLocks(KeyedLocks):
    """``hold(keys)``: the in-process locks, then a lease on each key in ``kv``."""

    def __init__(
        self, kv: KVStorage, *, ttl: float = DEFAULT_TTL, wait: float = DEFAULT_WAIT
    ) -> None:
        super().__init__()
        self._kv = kv
        self._ttl = ttl
        self._wait = wait
        self.owner = f"{uuid.uuid4().hex[:12]}"

    @asynccontextmanager
    async def hold(self, keys: Iterable[str]) -> AsyncIterator[None]:
        wanted = sorted(set(keys))
        async with super().hold(wanted):
            if not wanted:
                yield
                return
            held = await self._acquire(wanted)
            renewer = asyncio.create_task(self._renew(held))
            try:
                yield
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
                lost = await self._release(held)
            if lost:
                raise LeaseLostError(
                    f"lost the lock on {', '.join(lost[:5])} to another process "
                    f"(held past its {self._ttl:.0f} s lease); the step must run again"
                )

    # -- taking and giving back ---------------------------------------------

    def _lease(self) -> dict[str, Any]:
        return {"owner": self.owner, "nonce": uuid.uuid4().hex,
                "expires": time.time() + self._ttl}

    async def _acquire(self, keys: list[str]) -> dict[str, str | None]:
        """Versions of our leases on every key, once all of them are free at once."""
        deadline = time.monotonic() + self._wait
        attempt = 0
        while True:
            current = await self._kv.get_versioned(keys)
            now = time.time()
            busy = [k for k, (value, _) in zip(keys, current, strict=True)
                    if value is not None and value.get("expires", 0) > now]
            if not busy:
                results = await asyncio.gather(
                    *(self._kv.put_if_version(k, self._lease(), version)
                      for k, (_, version) in zip(keys, current, strict=True)),
                    return_exceptions=True,
                )
                held: dict[str, str | None] = {
                    k: r for k, r in zip(keys, results, strict=True) if isinstance(r, str)
                }
                failed = [r for r in results if not isinstance(r, str)]
                if not failed:
                    return held
                await self._release(held)
                errors = [r for r in failed if not isinstance(r, VersionConflictError)]
                if errors:
                    raise errors[0]
                busy = [k for k in keys if k not in held]
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreUnavailableError(
                    f"timed out after {self._wait:g} s waiting for the lock on "
                    f"{', '.join(busy[:5])}; another process is merging them"
                )
            pause = random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt))
            await asyncio.sleep(min(pause, left))
            attempt += 1

    async def _renew(self, held: dict[str, str | None]) -> None:
        """Push the expiry of every held lease forward until cancelled."""
        while True:
            await asyncio.sleep(self._ttl / 3)
            for key, version in list(held.items()):
                if version is None:
                    continue
                try:
                    held[key] = await self._kv.put_if_version(key, self._lease(), version)
                except VersionConflictError:
                    logger.error("lease on %s was taken by another process", key)
                    held[key] = None
                except StorageError as exc:  # try again at the next tick
                    logger.warning("renewing the lease on %s failed: %s", key, exc)

    async def _release(self, held: dict[str, str | None]) -> list[str]:
        """Delete our leases; returns the keys whose lease was no longer ours."""
        async def give_back(key: str, version: str | None) -> str | None:
            if version is None:
                return key
            try:
                await self._kv.put_if_version(key, None, version)
            except VersionConflictError:
                return key
            except StorageError as exc:  # it expires after ttl anyway
                logger.warning("releasing the lease on %s failed: %s", key, exc)
            return None

        lost = await asyncio.gather(*(give_back(k, v) for k, v in held.items()))
        return [k for k in lost if k is not None]
