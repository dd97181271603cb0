"""The pipeline status record: its transitions, its invariants and its shared persistence."""

from __future__ import annotations

from lambdarag.storage.base import VersionConflictError
from lambdarag.workspace.pipeline_status import (
    STORED_HISTORY,
    PipelineStatus,
    SharedPipelineStatus,
)


def test_a_job_runs_from_start_to_end_and_a_cancel_reaches_only_it() -> None:
    status = PipelineStatus()
    status.start_job("a.txt...[2 files]", 2)
    status.add_documents(1)
    status.request_cancel()
    assert (status.busy, status.docs, status.batchs, status.cancellation_requested) == (True, 3, 3, True)
    for _ in range(3):
        status.document_done()
    status.end_job()
    assert (status.busy, status.cur_batch, status.cancellation_requested) == (False, 3, False)
    assert status.job_name == "a.txt...[2 files]"  # the last job's name stays
    assert status.latest_message == "All documents processed"
    status.start_job("next", 1)
    assert (status.cur_batch, status.cancellation_requested) == (0, False)


def test_executions_count_each_document_once_and_the_last_one_ends_the_job() -> None:
    status = PipelineStatus()
    status.join_execution("doc-1", "first.txt")
    status.join_execution("doc-1", "first.txt")  # a retried prepare
    status.join_execution("doc-2", "second.txt")
    assert (status.busy, status.docs, status.job_name) == (True, 2, "first.txt...[serverless]")
    status.leave_execution("doc-1")
    status.leave_execution("doc-1")  # a duplicate execution's finalize
    assert (status.busy, status.cur_batch) == (True, 1)
    status.leave_execution("doc-2")
    assert (status.busy, status.cur_batch, status.active) == (False, 2, [])


def test_history_counts_every_line_and_the_wire_shape_says_what_was_cut() -> None:
    status = PipelineStatus()
    for i in range(5):
        status.log(f"line {i}")
    assert status.messages_since(3) == ["line 3", "line 4"]
    wire = status.as_dict(limit=2)
    assert wire["history_messages"] == ["[Truncated history messages: 2/5]", "line 3", "line 4"]
    status.clear_history()
    assert (status.total_messages, status.as_dict()["history_messages"]) == (0, [])


def test_the_stored_record_round_trips_and_keeps_the_last_lines() -> None:
    status = PipelineStatus()
    status.start_job("job", 4)
    for i in range(STORED_HISTORY + 5):
        status.log(f"line {i}")
    copy = PipelineStatus()
    copy.load_record(status.to_record())
    assert (copy.busy, copy.job_name, copy.docs, copy.total_messages) == (True, "job", 4, STORED_HISTORY + 5)
    assert list(copy.history_messages) == [f"line {i}" for i in range(5, STORED_HISTORY + 5)]
    copy.load_record(None)
    assert copy == PipelineStatus()


class RacingKV:
    """A KV store where another writer changes the record before the first two writes."""

    def __init__(self) -> None:
        self.record: dict | None = None
        self.version = 0
        self.races = 2

    async def get_by_id(self, key: str) -> dict | None:
        return self.record

    async def get_versioned(self, keys: list[str]) -> list[tuple[dict | None, int]]:
        return [(self.record, self.version)]

    async def put_if_version(self, key: str, value: dict, version: int) -> None:
        if self.races:
            self.races -= 1
            other = PipelineStatus()
            other.load_record(self.record)
            other.log("from another process")
            self.record, self.version = other.to_record(), self.version + 1
            raise VersionConflictError(key)
        assert version == self.version
        self.record, self.version = value, self.version + 1


async def test_a_shared_change_retries_on_a_version_conflict_and_loses_no_line() -> None:
    kv = RacingKV()
    shared = SharedPipelineStatus(kv)  # type: ignore[arg-type]
    mine = PipelineStatus()
    await shared.change(mine, PipelineStatus.request_cancel)
    assert kv.record is not None
    assert kv.record["history"] == ["from another process", "from another process",
                                    "Cancellation requested"]
    assert kv.record["cancellation_requested"] is True
    fresh = PipelineStatus()
    await shared.refresh(fresh)
    assert fresh.total_messages == 3
