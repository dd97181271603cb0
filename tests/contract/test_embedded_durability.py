"""Embedded backend only: crash safety and concurrent writer processes.

A helper process (embedded_writer.py) acknowledges each item on stdout only after
its awaited writes returned; whatever it acknowledged must survive ``kill -9``,
and two such processes writing one workspace at once must lose nothing.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from pathlib import Path

from lambdarag.storage.embedded import EmbeddedStorageFactory
from tests.contract.embedded_writer import DIM, HUB, NAMESPACE, vector_for

WRITER = Path(__file__).with_name("embedded_writer.py")
WORKSPACE = "durable"
CRASH_ACKS = 300
ITEMS_PER_WRITER = 400


async def start_writer(working_dir: Path, prefix: str, count: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        str(working_dir),
        WORKSPACE,
        prefix,
        str(count),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_acks(process: asyncio.subprocess.Process, wanted: int) -> list[str]:
    assert process.stdout is not None
    acks: list[str] = []
    while len(acks) < wanted and (line := await process.stdout.readline()):
        acks.append(line.decode().split()[1])
    return acks


async def create_hub(working_dir: Path) -> EmbeddedStorageFactory:
    factory = EmbeddedStorageFactory(working_dir, WORKSPACE)
    await factory.graph().upsert_nodes({HUB: {"entity_id": HUB}})
    return factory


async def assert_items_present(factory: EmbeddedStorageFactory, keys: list[str]) -> None:
    assert None not in await factory.kv("full_docs").get_by_ids(keys)
    assert None not in await factory.doc_status().get_many(keys)
    graph = factory.graph()
    assert set(await graph.get_nodes(keys)) == set(keys)
    assert set(await graph.get_edges([(key, HUB) for key in keys])) == {(key, HUB) for key in keys}
    vectors = factory.vectors(NAMESPACE, DIM)
    assert set(await vectors.get_vectors(keys)) == set(keys)
    for key in keys[:: max(1, len(keys) // 25)]:
        (best,) = await vectors.query(vector_for(key), 1)
        assert best["id"] == key


def integrity(database: Path) -> str:
    with sqlite3.connect(database) as conn:
        (result,) = conn.execute("PRAGMA integrity_check").fetchone()
    return str(result)


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    # GIVEN a writer process looping over KV, doc status, graph and vector writes
    await (await create_hub(tmp_path)).close()
    writer = await start_writer(tmp_path, "crash", 0)

    # WHEN it is killed with SIGKILL after a few hundred acknowledgements
    try:
        acks = await asyncio.wait_for(read_acks(writer, CRASH_ACKS), timeout=60)
    finally:
        writer.kill()
        _, stderr = await writer.communicate()
    assert len(acks) == CRASH_ACKS, stderr.decode()
    assert writer.returncode == -signal.SIGKILL

    # THEN the database is intact and every acknowledged item is there
    reopened = EmbeddedStorageFactory(tmp_path, WORKSPACE)
    try:
        assert integrity(reopened.path) == "ok"
        await assert_items_present(reopened, acks)
        degree = (await reopened.graph().node_degrees([HUB]))[HUB]
        assert degree >= CRASH_ACKS  # an unacknowledged last item may also have landed
        assert degree == (await reopened.graph().counts())[1]
    finally:
        await reopened.close()


async def test_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    # GIVEN a long-lived factory whose vector matrix is already loaded
    reader = await create_hub(tmp_path)
    vectors = reader.vectors(NAMESPACE, DIM)
    await vectors.upsert([{"id": "seed"}], vector_for("seed")[None, :])
    assert [hit["id"] for hit in await vectors.query(vector_for("seed"), 1)] == ["seed"]

    # WHEN two processes write disjoint items into the same workspace at once,
    # all linking to the shared HUB node, while the reader keeps querying
    writers = [
        await start_writer(tmp_path, prefix, ITEMS_PER_WRITER) for prefix in ("left", "right")
    ]
    finished = asyncio.gather(*(writer.communicate() for writer in writers))
    while not finished.done():
        await vectors.query(vector_for("seed"), 10, threshold=-1.0)
        await asyncio.sleep(0.02)
    outputs = await asyncio.wait_for(finished, timeout=90)
    for writer, (_, stderr) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, stderr.decode()

    # THEN every item is present, degrees are exact, and the reader's queries see it all
    keys = [f"{prefix}-{i}" for prefix in ("left", "right") for i in range(ITEMS_PER_WRITER)]
    try:
        await assert_items_present(reader, keys)
        graph = reader.graph()
        assert (await graph.node_degrees([HUB]))[HUB] == len(keys)
        assert set((await graph.node_degrees(keys)).values()) == {1}
        assert await graph.counts() == (len(keys) + 1, len(keys))
        assert await vectors.count() == len(keys) + 1
        hits = await vectors.query(vector_for("seed"), 1000, threshold=-1.0)
        assert {hit["id"] for hit in hits} == {*keys, "seed"}
    finally:
        await reader.close()
