"""DocStatusStorage contract."""

from __future__ import annotations

import pytest

from lambdarag.storage.base import DocPage, DocStatusRecord, DocStatusStorage, StorageFactory

SORT_FIELDS = ["created_at", "updated_at", "id", "file_path"]


def record(doc_id: str, status: str, minute: int, **extra: object) -> DocStatusRecord:
    """A full record whose timestamps and file path sort differently from its id."""
    fields: dict[str, object] = {
        "id": doc_id,
        "status": status,
        "content_summary": f"summary of {doc_id}",
        "content_length": 100 + minute,
        "file_path": f"{(minute * 7) % 10}-{doc_id}.txt",
        "created_at": f"2025-01-01T00:{minute:02d}:00+00:00",
        "updated_at": f"2025-01-02T00:{(60 - minute) % 60:02d}:00+00:00",
        "track_id": f"track-{minute % 2}",
        "chunks_count": minute,
        "chunks_list": [f"chunk-{doc_id}-{i}" for i in range(2)],
        "error_msg": None,
        "metadata": {"minute": minute},
        "content_hash": f"hash-{minute % 3}",
    }
    fields.update(extra)
    return DocStatusRecord(**fields)  # type: ignore[typeddict-item]


RECORDS = [
    record("doc-c", "processed", 1),
    record("doc-a", "pending", 2),
    record("doc-e", "failed", 3, error_msg="boom"),
    record("doc-b", "processed", 4),
    record("doc-g", "processing", 5),
    record("doc-d", "pending", 6),
    record("doc-f", "processed", 7),
]


@pytest.fixture
async def store(factory: StorageFactory) -> DocStatusStorage:
    doc_status = factory.doc_status()
    await doc_status.upsert(RECORDS)
    return doc_status


def ids(records: list[DocStatusRecord]) -> list[str]:
    return [r["id"] for r in records]


async def list_page(
    store: DocStatusStorage,
    *,
    statuses: list[str] | None = None,
    number: int = 1,
    size: int = 100,
    field: str = "id",
    direction: str = "asc",
) -> DocPage:
    return await store.page(
        statuses=statuses, page=number, page_size=size, sort_field=field, sort_direction=direction
    )


async def test_get_and_get_many_return_whole_records(store: DocStatusStorage) -> None:
    # WHEN reading one record and several (with a missing id)
    one = await store.get("doc-e")
    many = await store.get_many(["doc-b", "missing", "doc-c"])

    # THEN whole records come back in order, None where absent
    assert one == RECORDS[2]
    assert many == [RECORDS[3], None, RECORDS[0]]
    assert await store.get("missing") is None


async def test_upsert_replaces_the_whole_record(store: DocStatusStorage) -> None:
    # WHEN a record is upserted with a new status and fewer fields
    await store.upsert([{"id": "doc-a", "status": "processed", "file_path": "new.txt"}])

    # THEN it is replaced and every listing reflects the new values
    assert await store.get("doc-a") == {
        "id": "doc-a",
        "status": "processed",
        "file_path": "new.txt",
    }
    assert "doc-a" not in ids(await store.by_status(["pending"]))
    assert ids(await store.by_file_path("new.txt")) == ["doc-a"]


async def test_upsert_without_id_is_rejected(store: DocStatusStorage) -> None:
    with pytest.raises(ValueError):
        await store.upsert([{"status": "pending"}])


async def test_delete_removes_rows(store: DocStatusStorage) -> None:
    # WHEN two rows (and an unknown id) are deleted
    await store.delete(["doc-a", "doc-b", "unknown"])

    # THEN they are gone from reads, listings and counts
    assert await store.get_many(["doc-a", "doc-b"]) == [None, None]
    assert (await list_page(store)).total_count == 5
    assert await store.status_counts() == {
        "processed": 2,
        "failed": 1,
        "processing": 1,
        "pending": 1,
    }


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["processed"], {"doc-b", "doc-c", "doc-f"}),
        (["pending", "failed"], {"doc-a", "doc-d", "doc-e"}),
        (["unknown"], set()),
        ([], set()),
    ],
)
async def test_by_status(store: DocStatusStorage, statuses: list[str], expected: set[str]) -> None:
    assert set(ids(await store.by_status(statuses))) == expected


async def test_lookups_by_track_id_file_path_and_content_hash(store: DocStatusStorage) -> None:
    assert set(ids(await store.by_track_id("track-0"))) == {"doc-a", "doc-b", "doc-d"}
    assert ids(await store.by_file_path("7-doc-c.txt")) == ["doc-c"]
    assert set(ids(await store.by_content_hash("hash-1"))) == {"doc-c", "doc-b", "doc-f"}
    assert await store.by_track_id("nope") == []
    assert await store.by_file_path("nope") == []
    assert await store.by_content_hash("nope") == []


async def test_status_counts_has_only_present_statuses(store: DocStatusStorage) -> None:
    assert await store.status_counts() == {
        "processed": 3,
        "pending": 2,
        "failed": 1,
        "processing": 1,
    }


async def test_status_counts_of_empty_store(factory: StorageFactory) -> None:
    assert await factory.doc_status().status_counts() == {}


@pytest.mark.parametrize("sort_field", SORT_FIELDS)
@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_page_sorts_by_every_field_in_both_directions(
    store: DocStatusStorage, sort_field: str, direction: str
) -> None:
    # GIVEN the expected order computed in Python
    expected = sorted(RECORDS, key=lambda r: (r[sort_field], r["id"]), reverse=direction == "desc")  # type: ignore[literal-required]

    # WHEN reading every page of 3
    pages = [
        await list_page(store, number=number, size=3, field=sort_field, direction=direction)
        for number in (1, 2, 3)
    ]

    # THEN the pages concatenate to the expected order and all carry the total
    assert [ids(p.documents) for p in pages] == [
        ids(expected[0:3]),
        ids(expected[3:6]),
        ids(expected[6:]),
    ]
    assert {p.total_count for p in pages} == {len(RECORDS)}


async def test_page_filters_statuses_and_counts_the_filtered_total(store: DocStatusStorage) -> None:
    # WHEN paging through processed + pending documents, two per page, newest first
    first = await list_page(
        store, statuses=["processed", "pending"], size=2, field="created_at", direction="desc"
    )
    third = await list_page(
        store,
        statuses=["processed", "pending"],
        number=3,
        size=2,
        field="created_at",
        direction="desc",
    )

    # THEN only those statuses appear and the total counts them all
    assert ids(first.documents) == ["doc-f", "doc-d"]
    assert ids(third.documents) == ["doc-c"]
    assert first.total_count == third.total_count == 5


@pytest.mark.parametrize("statuses", [None, []])
async def test_page_without_statuses_lists_everything(
    store: DocStatusStorage, statuses: list[str] | None
) -> None:
    result = await list_page(store, statuses=statuses)
    assert ids(result.documents) == sorted(ids(RECORDS))
    assert result.total_count == len(RECORDS)


async def test_page_past_the_end_is_empty_but_keeps_the_total(store: DocStatusStorage) -> None:
    result = await list_page(store, statuses=["processed"], number=9, size=2)
    assert result.documents == []
    assert result.total_count == 3


async def test_page_breaks_ties_by_id(factory: StorageFactory) -> None:
    # GIVEN documents with the same created_at
    doc_status = factory.doc_status()
    await doc_status.upsert([record(doc_id, "pending", 9) for doc_id in ["d2", "d3", "d1"]])

    # WHEN sorting by created_at in both directions
    asc = await list_page(doc_status, field="created_at", direction="asc")
    desc = await list_page(doc_status, field="created_at", direction="desc")

    # THEN ties are ordered by id in the same direction
    assert ids(asc.documents) == ["d1", "d2", "d3"]
    assert ids(desc.documents) == ["d3", "d2", "d1"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"page": 0, "page_size": 10, "sort_field": "id", "sort_direction": "asc"},
        {"page": 1, "page_size": 0, "sort_field": "id", "sort_direction": "asc"},
        {"page": 1, "page_size": 10, "sort_field": "status; DROP TABLE x", "sort_direction": "asc"},
        {"page": 1, "page_size": 10, "sort_field": "id", "sort_direction": "sideways"},
    ],
)
async def test_page_rejects_bad_arguments(
    store: DocStatusStorage, arguments: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        await store.page(statuses=None, **arguments)  # type: ignore[arg-type]


async def test_drop_removes_every_row(store: DocStatusStorage) -> None:
    await store.drop()
    assert await store.status_counts() == {}
    assert await store.get("doc-a") is None
