"""The SQLite file of one workspace and the single thread that talks to it.

Every statement runs on a dedicated single-thread executor, so the event loop
never blocks on disk and the connection is only ever used by the thread that
opened it. In-process access is serialised by that thread; other processes that
open the same file are coordinated by SQLite's own locking and ``busy_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from lambdarag.storage.base import StorageError, StoreUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
# Comfortably below SQLITE_MAX_VARIABLE_NUMBER on every SQLite build we may meet.
MAX_SQL_PARAMS = 500

_UNAVAILABLE_MARKERS = ("unable to open", "locked", "busy", "disk", "not a database", "readonly")


class Database:
    """One SQLite database file opened lazily on its own executor thread.

    ``schema`` is idempotent DDL (``CREATE ... IF NOT EXISTS``), or a function of the
    connection that migrates an older file idempotently, applied in order once when
    the connection opens. Use :meth:`read` for consistent snapshots, :meth:`write`
    for one durable read-modify-write transaction, and :meth:`run` when the
    callable manages its own transactions via :func:`transaction`.
    """

    def __init__(
        self, path: Path, schema: Sequence[str | Callable[[sqlite3.Connection], None]]
    ) -> None:
        self.path = path
        self._schema = tuple(schema)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambdarag-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on the database thread; sqlite errors become StorageError."""
        if self._closed:
            raise StoreUnavailableError(f"database {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` inside a deferred (snapshot) transaction."""

        def in_snapshot(conn: sqlite3.Connection) -> T:
            with transaction(conn, "DEFERRED"):
                return fn(conn)

        return await self.run(in_snapshot)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` inside one ``BEGIN IMMEDIATE`` transaction, committed on return."""

        def in_transaction(conn: sqlite3.Connection) -> T:
            with transaction(conn, "IMMEDIATE"):
                return fn(conn)

        return await self.run(in_transaction)

    async def clear(self, *tables: str) -> None:
        """Delete every row of ``tables`` in one transaction (a store's ``drop``)."""

        def delete(conn: sqlite3.Connection) -> None:
            for table in tables:
                conn.execute(f"DELETE FROM {table}")  # the stores' own table names, never input

        await self.write(delete)

    async def close(self) -> None:
        """Close the connection and stop the thread; later calls raise StoreUnavailableError."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._close_connection)
        finally:
            self._executor.shutdown(wait=False)

    # -- executor thread -----------------------------------------------------

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._connection())
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot create {self.path.parent}: {exc}") from exc
        # No prepared-statement cache. With CPython's cache on, concurrent uploads
        # and queries fail about one run in two with "bad parameter or other API
        # misuse" in executemany (tests/functional/test_load.py with the cache on).
        # Every statement here runs on one thread, so this is the sqlite3 module's
        # own statement reuse (cached statements shared by cursors that were not
        # stepped to the end; see python/cpython#118172 and #94028), which other
        # projects work around the same way. Re-preparing costs microseconds.
        conn = sqlite3.connect(self.path, isolation_level=None, cached_statements=0)
        try:
            _configure(conn)
            with transaction(conn, "IMMEDIATE"):
                for ddl in self._schema:
                    if callable(ddl):
                        ddl(conn)
                        continue
                    for statement in _statements(ddl):
                        conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        logger.debug("opened %s", self.path)
        return conn

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            logger.debug("closed %s", self.path)


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = _enable_wal(conn)
    if str(mode).lower() != "wal":  # e.g. a file system without shared memory
        logger.warning(
            "SQLite kept journal_mode=%s instead of WAL; writers will block readers", mode
        )
    # In WAL mode, NORMAL syncs the WAL at checkpoints only: a committed
    # transaction survives the process being killed (the WAL is in the OS page
    # cache), though an OS crash or power loss may lose the last commits.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = OFF")
    # SQLite's built-in lower() folds ASCII only; label search needs Unicode.
    conn.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)


def _enable_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL (kept in the file), retrying while another connection switches it.

    Changing the journal mode needs the database to itself and does not wait on the busy
    timeout: two processes opening a new store at the same moment can see "database is
    locked" here. Once the file is in WAL mode, this is a read.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() == "wal":
            return str(mode)
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return str(mode)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _unicode_lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _statements(ddl: str) -> Iterator[str]:
    for statement in ddl.split(";"):
        if statement.strip():
            yield statement


def _storage_error(exc: sqlite3.Error, path: Path) -> StorageError:
    message = f"SQLite error on {path}: {exc}"
    if any(marker in str(exc).lower() for marker in _UNAVAILABLE_MARKERS):
        return StoreUnavailableError(message)
    return StorageError(message)


@contextmanager
def transaction(conn: sqlite3.Connection, mode: str) -> Iterator[sqlite3.Connection]:
    """``BEGIN <mode>`` ... ``COMMIT``, rolled back if the body raises."""
    conn.execute(f"BEGIN {mode}")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # some errors already rolled back
            conn.execute("ROLLBACK")
        raise


def chunked(items: Sequence[T], size: int = MAX_SQL_PARAMS) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items (for ``IN (...)`` lists)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(count: int) -> str:
    """``?, ?, ?`` with ``count`` marks."""
    return ", ".join("?" * count)
