"""Document lifecycle rows in the DynamoDB table, listed through sparse GSIs.

A row is ``pk = partition(workspace, "doc")``, ``sk = key_part(id)``, the whole record as
JSON in ``d`` and copies of the listing fields: ``st`` (status), ``ca``/``ua``
(created_at/updated_at) and ``fp`` (file_path). Only doc rows carry the index hash keys,
so every index is sparse and holds nothing of the KV or fragment items:

=============  ==========================================  =====================================
index          hash key                                    serves
=============  ==========================================  =====================================
doc-list       ``partition(ws, "doc")``                    page() and status_counts() without a
                                                           status filter
doc-status     ``partition(ws, "doc-status", status)``     by_status(), page() with statuses
doc-track      ``partition(ws, "doc-track", track_id)``    by_track_id()
doc-file       ``partition(ws, "doc-file", file_path)``    by_file_path() (the caller passes the
                                                           canonical path; scan and source-conflict
                                                           checks depend on it)
doc-hash       ``partition(ws, "doc-hash", content_hash)``  by_content_hash()
=============  ==========================================  =====================================

doc-list and doc-status project only the listing fields (``INCLUDE``), so a listing reads
about a hundred bytes per row, not the whole record with its ``chunks_list``; the rows of
the page asked for are then read whole with one BatchGetItem. The lookup indexes are
``KEYS_ONLY`` and their rows are read whole the same way.

Sorting trade-off: DynamoDB has neither OFFSET nor COUNT, and ``total_count`` needs every
matching row counted anyway, so page() reads the matching lean index entries in full
(one Query per status), sorts them by (sort field, id) in memory and slices the page.
One index per (sort field x status filter) would read no less (the count still needs all
rows) and would cost a write per index per update, so it is not done. Status values
are free text, so there is no fixed list of statuses to count: status_counts() counts
the doc-list entries.

Consistency: GSIs are eventually consistent on AWS. Rows read through an index are
re-read from the table (strongly consistent) and dropped when they no longer match, so a
listing never shows a stale row, though a row written a moment ago may be missing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, cast

from lambdarag.storage.base import DocPage, DocStatusRecord, DocStatusStorage
from lambdarag.storage.dynamodb.table import (
    LEAN_ATTRIBUTES,
    DynamoTable,
    Item,
    key_part,
    partition,
    registry_item,
)

logger = logging.getLogger(__name__)

# The lean index attribute each sort field is copied to (base.DOC_SORT_FIELDS).
SORT_ATTRIBUTES = {"created_at": "ca", "updated_at": "ua", "id": "id", "file_path": "fp"}
_LOOKUPS = {  # record field -> (index, partition kind, index hash attribute)
    "track_id": ("doc-track", "doc-track", "tpk"),
    "file_path": ("doc-file", "doc-file", "fpk"),
    "content_hash": ("doc-hash", "doc-hash", "hpk"),
}


class DynamoDocStatusStorage(DocStatusStorage):
    """One workspace's doc status rows (see the module docstring for the indexes)."""

    def __init__(self, table: DynamoTable, workspace: str) -> None:
        self._table = table
        self._workspace = workspace
        self._pk = partition(workspace, "doc")
        self._registered = False  # this workspace's registry item written by this process

    async def ensure(self) -> None:
        await self._table.ensure()

    async def get(self, doc_id: str) -> DocStatusRecord | None:
        return (await self.get_many([doc_id]))[0]

    async def get_many(self, doc_ids: Sequence[str]) -> list[DocStatusRecord | None]:
        if not doc_ids:
            return []
        found = await self._table.run(self._read_records, list(doc_ids))
        return [found.get(doc_id) for doc_id in doc_ids]

    async def upsert(self, records: Sequence[DocStatusRecord]) -> None:
        if not records:
            return
        for record in records:
            if not record.get("id"):
                raise ValueError(f"doc status record without id: {record!r}")

        puts = [self._item(record) for record in records]
        if not self._registered:  # the workspace is listed once it holds a document
            puts.append(registry_item(self._workspace))

        def write() -> None:
            self._table.write_many_sync(puts=puts)

        await self._table.run(write)
        self._registered = True

    async def delete(self, doc_ids: Sequence[str]) -> None:
        keys = [(self._pk, key_part(doc_id)) for doc_id in dict.fromkeys(doc_ids)]
        if keys:
            await self._table.run(self._table.delete_keys_sync, keys)

    async def by_status(self, statuses: Sequence[str]) -> list[DocStatusRecord]:
        wanted = list(dict.fromkeys(statuses))
        if not wanted:
            return []

        def read() -> list[DocStatusRecord]:
            ids = [entry["id"] for entry in self._lean_entries(wanted)]
            records = self._read_records(ids).values()
            return _by_id(r for r in records if r.get("status") in wanted)

        return await self._table.run(read)

    async def status_counts(self) -> dict[str, int]:
        def read() -> dict[str, int]:
            entries = self._table.query_sync(self._pk, index="doc-list", attributes=["st"])
            return dict(Counter(entry["st"] for entry in entries if "st" in entry))

        return await self._table.run(read)

    async def _page(
        self, wanted: list[str], page: int, page_size: int, sort_field: str, sort_direction: str
    ) -> DocPage:
        attribute = SORT_ATTRIBUTES[sort_field]

        def read() -> DocPage:
            entries = self._lean_entries(wanted or None)
            entries.sort(key=lambda e: (_sortable(e.get(attribute)), e["id"]),
                         reverse=sort_direction == "desc")
            start = (page - 1) * page_size
            window = [entry["id"] for entry in entries[start : start + page_size]]
            records = self._read_records(window)
            documents = [records[doc_id] for doc_id in window if doc_id in records]
            return DocPage(documents=documents, total_count=len(entries))

        return await self._table.run(read)

    async def drop(self) -> None:
        count = await self._table.run(self._table.delete_partition_sync, self._pk)
        logger.info("dropped doc_status (%d rows)", count)

    # -- worker thread ---------------------------------------------------------

    def _item(self, record: DocStatusRecord) -> dict[str, Any]:
        fields = cast(dict[str, Any], record)
        item: Item = {"pk": self._pk, "sk": key_part(fields["id"]), "id": fields["id"],
                      "lpk": self._pk}
        status = fields.get("status")
        if isinstance(status, str):
            item["st"] = status
            item["spk"] = partition(self._workspace, "doc-status", status)
        for field, attribute in (("created_at", "ca"), ("updated_at", "ua"), ("file_path", "fp")):
            if isinstance(fields.get(field), str):
                item[attribute] = fields[field]
        for field, (_, kind, hash_key) in _LOOKUPS.items():
            if isinstance(fields.get(field), str):
                item[hash_key] = partition(self._workspace, kind, fields[field])
        return self._table.pack(item, record)

    def _read_records(self, doc_ids: list[str]) -> dict[str, DocStatusRecord]:
        found = self._table.get_many_sync((self._pk, key_part(doc_id)) for doc_id in doc_ids)
        return {item["id"]: self._table.unpack(item) for item in found.values()}

    def _lean_entries(self, statuses: list[str] | None) -> list[Item]:
        """The listing fields of every row (of the given statuses), from the lean indexes."""
        if statuses is None:
            return list(self._table.query_sync(self._pk, index="doc-list",
                                               attributes=LEAN_ATTRIBUTES))
        entries: dict[str, Item] = {}  # by id: a lagging index may list a row twice
        for status in statuses:
            for entry in self._table.query_sync(
                partition(self._workspace, "doc-status", status), index="doc-status",
                attributes=LEAN_ATTRIBUTES,
            ):
                entries.setdefault(entry["id"], entry)
        return list(entries.values())

    async def _by_field(self, field: str, value: str) -> list[DocStatusRecord]:
        index, kind, _ = _LOOKUPS[field]

        def read() -> list[DocStatusRecord]:
            keys = self._table.query_sync(partition(self._workspace, kind, value), index=index)
            found = self._table.get_many_sync((key["pk"], key["sk"]) for key in keys)
            records = (self._table.unpack(item) for item in found.values())
            return _by_id(r for r in records if r.get(field) == value)

        return await self._table.run(read)


def _by_id(records: Iterable[DocStatusRecord]) -> list[DocStatusRecord]:
    return sorted(records, key=lambda record: record["id"])


def _sortable(value: str | None) -> tuple[int, str]:
    """Missing values sort first, as NULL does in the embedded store."""
    return (0, "") if value is None else (1, value)
