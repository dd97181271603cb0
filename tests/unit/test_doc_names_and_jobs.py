"""Canonical basenames (parser hints) and the delete/clear job in pipeline_status."""

from __future__ import annotations

import pytest

from lambdarag.indexing.parse import canonical_basename
from lambdarag.workspace.pipeline_status import PipelineStatus, StatusJob


@pytest.mark.parametrize(("given", "expected"), [
    ("report.[mineru].pdf", "report.pdf"),
    ("docs/q1.[native-iF].docx", "q1.docx"),
    ("C:\\data\\a.b.[docling].PDF", "a.b.PDF"),
    ("plain.txt", "plain.txt"),
    ("[mineru].pdf", "[mineru].pdf"),  # no name before the hint: not a hint
    ("odd.[].pdf", "odd.[].pdf"),
    ("notes.[mineru]", "notes.[mineru]"),  # no extension after it
    ("", "unknown_source"),
    ("no-file-path", "unknown_source"),
    (None, "unknown_source"),
])
def test_canonical_basename(given: str | None, expected: str) -> None:
    assert canonical_basename(given) == expected


def job_on(status: PipelineStatus, total: int = 3) -> StatusJob:
    return StatusJob(status, "Deleting 3 Documents", total)


def test_a_job_on_a_free_record_shows_and_then_restores_idle() -> None:
    status = PipelineStatus()
    job = job_on(status)
    job.claim()
    assert (status.busy, status.job_name, status.docs, status.cur_batch) == (True, "Deleting 3 Documents", 3, 0)
    job.step()
    assert status.cur_batch == 1
    job.finish("Deletion finished: 1 of 3 documents deleted")
    assert status.busy is False and status.latest_message.startswith("Deletion finished")
    assert status.job_name == "Deleting 3 Documents"  # the last job stays named, as after indexing


def test_a_job_never_overwrites_a_running_indexing_job() -> None:
    status = PipelineStatus()
    status.start_job("acme.txt...[2 files]", 2)
    job = job_on(status)
    job.claim()
    job.step()
    job.finish("Deletion finished: 1 of 3 documents deleted")
    assert (status.busy, status.job_name, status.cur_batch) == (True, "acme.txt...[2 files]", 0)
    assert status.latest_message == "Deletion finished: 1 of 3 documents deleted"


def test_a_job_takes_the_record_back_after_indexing_that_started_meanwhile() -> None:
    status = PipelineStatus()
    job = job_on(status)
    job.claim()
    status.start_job("acme.txt...[1 files]", 1)  # the runner starts indexing ...
    job.step()
    assert status.job_name == "acme.txt...[1 files]"
    status.busy = False  # ... and finishes it
    job.step()
    assert (status.busy, status.job_name, status.cur_batch) == (True, "Deleting 3 Documents", 2)


def test_cancelling_stops_only_the_job_that_holds_the_record() -> None:
    status = PipelineStatus()
    job = job_on(status)
    job.claim()
    status.cancellation_requested = True
    assert job.cancelled
    job.finish("Deletion cancelled: 0 of 3 documents deleted")
    assert status.cancellation_requested is False and status.busy is False
    status.start_job("acme.txt...[1 files]", 1)
    status.cancellation_requested = True
    assert not job_on(status).cancelled
