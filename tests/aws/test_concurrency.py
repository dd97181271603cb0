"""The AWS adapters under the concurrency real use brings, on fresh stores.

GIVEN the API on DynamoDB Local (KV, doc status, fragments), the local OpenSearch node
(vectors) and Gremlin Server (graph), each test on its own new table, index prefix and
workspace (so every store starts missing), and the default ``MAX_PARALLEL_INSERT``:
WHEN several documents index at once, readers query before and during the first writes,
many documents merge the same entities, or an indexer is killed halfway,
THEN every document ends processed, no request answers 5xx, and nothing is lost or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lambdarag.api.app import create_app
from lambdarag.config import Settings
from lambdarag.runtime import build_engine
from tests.aws.conftest import AWS_CREDENTIALS, aws_env, drop_remote
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import DIM, fake_settings, serve
from tests.functional.corpus import wait_for

MODES = ["naive", "local", "global", "hybrid", "mix"]


@pytest.fixture
def workspace_name() -> str:
    return f"cc_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def aws_settings(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, workspace_name: str
) -> Iterator[Settings]:
    """Settings on fresh AWS stores; the workspace's graph and indices are removed after."""
    with aws_env(monkeypatch, f"lrcc-{uuid.uuid4().hex[:10]}"):
        settings = fake_settings(tmp_path, fake_llm, workspace=workspace_name)
        assert settings.storage_backends == {
            "kv": "dynamodb", "doc_status": "dynamodb", "vectors": "opensearch", "graph": "neptune"}
        try:
            yield settings
        finally:
            asyncio.run(_cleanup(settings, workspace_name))


async def _cleanup(settings: Settings, name: str) -> None:
    engine = build_engine(settings)
    try:
        await drop_remote(await engine.workspace(name))
    finally:
        await engine.aclose()


def story(i: int) -> str:
    return (f"Captain Nova{i} sailed the Ship Aurora{i} to Port Vega{i}. "
            f"Engineer Lin{i} repaired the Ship Aurora{i} at Port Vega{i}.")


async def wait_processed(http: httpx.AsyncClient, total: int, timeout: float = 120) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        counts = (await http.get("/documents/status_counts")).json()["status_counts"]
        if counts.get("processed", 0) + counts.get("failed", 0) >= total:
            return counts
        assert asyncio.get_running_loop().time() < deadline, f"not finished: {counts}"
        await asyncio.sleep(0.1)


async def listing(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await http.post("/documents/paginated", json={"page_size": 200})
    assert response.status_code == 200, response.text
    return response.json()["documents"]


# --------------------------------------------------------------------------- fresh stores


def test_documents_uploaded_together_on_fresh_stores_all_process(
    aws_settings: Settings,
) -> None:
    # GIVEN fresh stores and the default MAX_PARALLEL_INSERT
    assert aws_settings.max_parallel_insert > 1

    async def scenario(base: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            # WHEN five documents are uploaded at the same moment
            uploads = await asyncio.gather(*(
                http.post("/documents/upload", files={"file": (f"story{i}.txt", story(i).encode())})
                for i in range(5)))
            assert [u.status_code for u in uploads] == [200] * 5, [u.text for u in uploads]
            await wait_processed(http, 5)
            return await listing(http)

    with serve(create_app(aws_settings)) as base:
        docs = asyncio.run(scenario(base))
    # THEN all five are processed, none failed by a creation race
    assert sorted((d["file_path"], d["status"], d.get("error_msg")) for d in docs) == [
        (f"story{i}.txt", "processed", None) for i in range(5)]


def test_every_read_on_fresh_stores_answers_empty_not_an_error(aws_settings: Settings) -> None:
    # GIVEN a workspace on stores that do not exist yet (no table, index or graph)
    async def scenario(base: str) -> list[tuple[str, int, Any]]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            calls = [("POST", "/query", {"query": "Who is Captain Nova?", "mode": mode})
                     for mode in MODES]
            calls += [("POST", "/query/data", {"query": "Who is Captain Nova?", "mode": mode})
                      for mode in MODES]
            calls += [
                ("GET", "/graphs?label=*", None), ("GET", "/graphs?label=Nobody", None),
                ("GET", "/graph/label/list", None), ("GET", "/graph/label/popular", None),
                ("GET", "/graph/label/search?q=Nova", None),
                ("GET", "/graph/entity/exists?name=Nobody", None),
                ("POST", "/documents/paginated", {"page_size": 10}),
                ("GET", "/documents/status_counts", None), ("GET", "/documents", None),
                ("GET", "/documents/pipeline_status", None), ("GET", "/health", None),
                ("GET", "/documents/track_status/nothing", None),
            ]
            found = []
            for method, path, body in calls:
                response = await http.request(method, path, json=body)
                found.append((path, response.status_code, response.json()))
            return found

    # WHEN every reading route is called before the first write
    with serve(create_app(aws_settings)) as base:
        found = asyncio.run(scenario(base))
    # THEN each answers 200 with nothing in it
    assert [(path, code) for path, code, _ in found if code != 200] == []
    by_path = {path: body for path, _, body in found}
    assert by_path["/graphs?label=*"]["nodes"] == []
    assert by_path["/graph/label/list"] == []
    assert by_path["/graph/label/popular"] == []
    assert by_path["/graph/entity/exists?name=Nobody"] == {"exists": False}
    assert by_path["/documents/paginated"]["documents"] == []
    data = [body for path, _, body in found if path == "/query/data"]
    # (as LightRAG: no results is a "failure" status with empty data, not an error)
    assert all(not d["data"].get("entities") and not d["data"].get("chunks") for d in data), data


def test_forty_uploads_with_readers_on_fresh_stores(aws_settings: Settings) -> None:
    """The load test on the AWS adapters: every document processed, no 5xx, none doubled."""
    total = 40

    async def scenario(base: str) -> tuple[list[int], list[int], list[dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            answers: list[int] = []
            done = asyncio.Event()

            async def reader(mode: str) -> None:
                while not done.is_set():
                    for path in ("/query", "/query/data"):
                        response = await http.post(path, json={"query": "Where is Port Vega3?",
                                                               "mode": mode})
                        answers.append(response.status_code)
                    answers.append((await http.get("/graphs", params={"label": "*"})).status_code)
                    answers.append((await http.get("/documents/pipeline_status")).status_code)
                    await asyncio.sleep(0.02)

            # WHEN readers start before the first write and 40 uploads arrive at once
            readers = [asyncio.create_task(reader(mode)) for mode in ("mix", "local", "naive")]
            await asyncio.sleep(0.2)
            uploads = await asyncio.gather(*(
                http.post("/documents/upload",
                          files={"file": (f"story{i:02d}.txt", story(i).encode())})
                for i in range(total)))
            await wait_processed(http, total, timeout=240)
            done.set()
            await asyncio.gather(*readers)
            return [u.status_code for u in uploads], answers, await listing(http)

    with serve(create_app(aws_settings)) as base:
        statuses, answers, docs = asyncio.run(scenario(base))
    # THEN every upload was accepted and every document processed exactly once
    assert statuses == [200] * total
    assert sorted(d["file_path"] for d in docs) == [f"story{i:02d}.txt" for i in range(total)]
    assert {(d["status"], d.get("error_msg")) for d in docs} == {("processed", None)}
    # AND no reader ever saw a 5xx
    assert answers and {code for code in answers if code >= 500} == set()
    # AND nothing is lost or doubled: one vector per chunk, node and edge
    counts = asyncio.run(store_counts(aws_settings))
    assert counts["chunks"] == total
    assert counts["entities"] == counts["nodes"] == 4 * total
    assert counts["relations"] == counts["edges"] > 0


async def store_counts(settings: Settings) -> dict[str, int]:
    engine = build_engine(settings)
    try:
        stores = (await engine.workspace()).stores
        nodes, edges = await stores.graph.counts()
        return {"nodes": nodes, "edges": edges, "chunks": await stores.chunks_vdb.count(),
                "entities": await stores.entities_vdb.count(),
                "relations": await stores.relationships_vdb.count()}
    finally:
        await engine.aclose()


def test_documents_merging_the_same_entities_at_once_lose_nothing(
    aws_settings: Settings,
) -> None:
    # GIVEN eight documents that all say something new about the same two entities
    count = 8
    texts = {f"fact{i}.txt": f"Acme Corp opened an office in Berlin. "
             f"Acme Corp hired Engineer{i} Moss." for i in range(count)}

    async def scenario(base: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            # WHEN they are inserted at once, so their merges of Acme Corp and Berlin race
            answers = await asyncio.gather(*(
                http.post("/documents/text", json={"text": text, "file_source": name})
                for name, text in texts.items()))
            assert {a.status_code for a in answers} == {200}
            await wait_processed(http, count)
            graph = (await http.get("/graphs", params={"label": "Acme Corp", "max_depth": 1,
                                                       "max_nodes": 1000})).json()
            return graph, await listing(http)

    with serve(create_app(aws_settings)) as base:
        graph, docs = asyncio.run(scenario(base))
    assert len(docs) == count and {d["status"] for d in docs} == {"processed"}
    nodes = {n["id"]: n["properties"] for n in graph["nodes"]}
    # (each document is one chunk, and its engineer is named in no other)
    chunk_ids = {nodes[f"Engineer{i} Moss"]["source_id"] for i in range(count)}
    assert len(chunk_ids) == count
    # THEN the shared entities cite every document's chunk, none lost to a racing write
    for name in ("Acme Corp", "Berlin"):
        assert set(nodes[name]["source_id"].split("<SEP>")) == chunk_ids, name
    edge = next(e for e in graph["edges"]
                if {e["source"], e["target"]} == {"Acme Corp", "Berlin"})
    assert set(edge["properties"]["source_id"].split("<SEP>")) == chunk_ids


def test_an_indexer_killed_halfway_resumes_on_the_aws_stores(
    aws_settings: Settings, tmp_path: Path, fake_llm: FakeLLMServer, workspace_name: str
) -> None:
    # GIVEN `lambdarag index` on six documents, with the AWS stores selected by environment
    names = [f"story{i}.txt" for i in range(6)]
    for i, name in enumerate(names):
        (tmp_path / name).write_text(story(i))
    env = {
        **os.environ,
        "WORKING_DIR": str(tmp_path / "rag_storage"), "WORKSPACE": workspace_name,
        "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm", "LLM_BINDING_HOST": fake_llm.openai_url,
        "EMBEDDING_BINDING": "openai", "EMBEDDING_MODEL": "fake-embed",
        "EMBEDDING_BINDING_HOST": fake_llm.openai_url, "EMBEDDING_DIM": str(DIM),
        "MAX_ASYNC": "2",
    }
    fake_llm.delay = 0.15
    process = subprocess.Popen([sys.executable, "-m", "lambdarag.cli", "index", *names],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    # WHEN it is killed with SIGKILL once some chunks were extracted
    wait_for(lambda: len(fake_llm.requests) >= 8 or process.poll() is not None, timeout=60)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the indexer finished before it was killed"
    fake_llm.delay = 0.0

    # THEN a new server on the same stores resumes every unfinished document
    async def scenario(base: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            await wait_processed(http, len(names))
            return await listing(http)

    with serve(create_app(aws_settings)) as base:
        docs = asyncio.run(scenario(base))
    assert sorted((d["file_path"], d["status"]) for d in docs) == [
        (name, "processed") for name in names]

    async def nodes() -> int:
        engine = build_engine(aws_settings)
        try:
            ws = await engine.workspace(workspace_name)
            found = await ws.stores.graph.get_nodes([f"Ship Aurora{i}" for i in range(6)])
            return len(found)
        finally:
            await engine.aclose()

    assert asyncio.run(nodes()) == 6


# --------------------------------------------------------------------------- creation races


async def test_processes_racing_to_create_one_index_all_succeed(
    local_aws: Any, unique_name: str
) -> None:
    import numpy as np

    from lambdarag.storage.opensearch import OpenSearchSettings
    from lambdarag.storage.opensearch.client import make_client
    from lambdarag.storage.opensearch.vector import delete_indices, open_vectors

    settings = OpenSearchSettings(hosts=(local_aws.opensearch_url,),
                                  index_prefix=unique_name.replace("_", "-"))
    # GIVEN eight writers, each with its own client as in eight Lambdas, and no index yet
    writers = [open_vectors(settings, "w") for _ in range(8)]
    try:
        stores = [make("chunks", 4) for make in writers]
        # WHEN all of them create it and write at once (half through ensure() first)
        rng = np.random.default_rng(7)

        async def write(i: int) -> None:
            if i % 2:
                await stores[i].ensure()
            await stores[i].upsert([{"id": f"v{i}"}], rng.normal(size=(1, 4)))

        await asyncio.gather(*(write(i) for i in range(8)))
        # THEN every write landed in the one index, with the adapter's mapping
        assert await stores[0].count() == 8
        assert len({s.index for s in stores}) == 1
        # AND a writer configured with another space is refused by the setting's name
        other = OpenSearchSettings(**{**settings.__dict__, "space_type": "cosinesimil"})
        drifted = open_vectors(other, "w")
        try:
            with pytest.raises(Exception, match="LAMBDARAG_OPENSEARCH_SPACE"):
                await drifted("chunks", 4).ensure()
        finally:
            await drifted.close()
    finally:
        admin = make_client(settings)
        await delete_indices(admin, settings.index_prefix)
        await admin.close()
        for made in writers:
            await made.close()


async def test_reads_while_another_process_creates_the_index_never_fail(
    local_aws: Any, unique_name: str
) -> None:
    import numpy as np

    from lambdarag.storage.opensearch import OpenSearchSettings
    from lambdarag.storage.opensearch.client import make_client
    from lambdarag.storage.opensearch.vector import delete_indices, open_vectors

    settings = OpenSearchSettings(hosts=(local_aws.opensearch_url,),
                                  index_prefix=unique_name.replace("_", "-"))
    reader, writer = open_vectors(settings, "w"), open_vectors(settings, "w")
    try:
        store, creator = reader("chunks", 4), writer("chunks", 4)
        found: list[tuple[int, int]] = []

        async def read() -> None:  # the index appears in the cluster before its shard is up
            for _ in range(150):
                found.append((len(await store.query(np.ones(4), 5)), await store.count()))
                await asyncio.sleep(0.002)

        async def write() -> None:
            await asyncio.sleep(0.02)
            await creator.upsert([{"id": "a"}], np.ones((1, 4)))

        # WHEN one process reads in a loop while another creates the index and writes
        await asyncio.gather(read(), write())
        # THEN every read answered (empty before the write, the row after it)
        assert len(found) == 150 and set(found) <= {(0, 0), (0, 1), (1, 0), (1, 1)}
        assert found[-1] == (1, 1)
    finally:
        admin = make_client(settings)
        await delete_indices(admin, settings.index_prefix)
        await admin.close()
        await reader.close()
        await writer.close()


async def test_processes_racing_to_create_the_table_all_succeed(
    local_aws: Any, unique_name: str, dynamodb_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdarag.storage.base import StorageError
    from lambdarag.storage.dynamodb import DynamoDBSettings, DynamoDBStorageFactory, make_client

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_CREDENTIALS["aws_secret_access_key"])

    settings = DynamoDBSettings(table=f"lrcc_{unique_name}", endpoint_url=local_aws.dynamodb_url,
                                region="us-east-1")
    # GIVEN six factories with their own clients and no table yet
    factories = [DynamoDBStorageFactory(settings, "w", client=make_client(settings))
                 for _ in range(6)]
    try:
        # WHEN all of them write at once
        await asyncio.gather(*(f.kv("full_docs").upsert({f"k{i}": {"i": i}})
                               for i, f in enumerate(factories)))
        # THEN the table exists once and holds every write
        keys = await factories[0].kv("full_docs").keys()
        assert keys == [f"k{i}" for i in range(6)]
        # AND a table of that name without the adapter's indexes is refused by name
        bare = DynamoDBSettings(**{**settings.__dict__, "table": f"lrbare_{unique_name}"})
        dynamodb_client.create_table(
            TableName=bare.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}])
        try:
            plain = DynamoDBStorageFactory(bare, "w", client=make_client(bare))
            with pytest.raises(StorageError, match="lacks the global secondary indexes doc-file"):
                await plain.doc_status().ensure()
            await plain.close()
        finally:
            dynamodb_client.delete_table(TableName=bare.table)
    finally:
        for factory in factories:
            await factory.close()
        with contextlib.suppress(dynamodb_client.exceptions.ResourceNotFoundException):
            dynamodb_client.delete_table(TableName=settings.table)


# --------------------------------------------------------------------------- Step Functions


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    from tests.aws.sfn_harness import SfnHarness

    harness = SfnHarness().start()
    try:
        harness.add_pipeline_functions()
        yield harness
    finally:
        harness.stop()


def test_several_executions_at_once_on_fresh_stores(
    sfn: Any, tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
    workspace_name: str,
) -> None:
    from lambdarag.config import load_settings
    from lambdarag.documents import lifecycle as documents

    with aws_env(monkeypatch, f"lrcc-{uuid.uuid4().hex[:10]}"):
        # GIVEN the step Lambdas configured as the stack configures them, on fresh stores
        for key, value in {
            "WORKING_DIR": str(tmp_path / "rag"), "INPUT_DIR": str(tmp_path / "inputs"),
            "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm",
            "LLM_BINDING_HOST": fake_llm.openai_url, "EMBEDDING_BINDING": "openai",
            "EMBEDDING_MODEL": "fake-embed", "EMBEDDING_BINDING_HOST": fake_llm.openai_url,
            "EMBEDDING_DIM": str(DIM), "LAMBDARAG_PIPELINE_STATUS": "shared",
            "POWERTOOLS_METRICS_NAMESPACE": "LambdaRAGTest",
        }.items():
            monkeypatch.setenv(key, value)
        sfn.recycle()
        settings = load_settings()

        async def enqueue() -> list[str]:
            engine = build_engine(settings)
            try:
                ws = await engine.workspace(workspace_name)
                batch = [documents.NewDocument(f"story{i}.txt", story(i)) for i in range(4)]
                batch.append(documents.NewDocument("shared.txt", "Captain Nova0 met Captain "
                                                   "Nova1 at Port Vega2."))
                return (await documents.enqueue(ws, batch, "track_cc")).doc_ids
            finally:
                await engine.aclose()

        async def outcome(doc_ids: list[str]) -> tuple[list[str], int]:
            engine = build_engine(settings)
            try:
                ws = await engine.workspace(workspace_name)
                records = await ws.stores.doc_status.get_many(doc_ids)
                nodes = await ws.stores.graph.get_nodes(
                    [f"Ship Aurora{i}" for i in range(4)] + ["Captain Nova0", "Port Vega2"])
                statuses = [(r or {}).get("status", "missing") for r in records]
                await drop_remote(ws)
                return statuses, len(nodes)
            finally:
                await engine.aclose()

        doc_ids = asyncio.run(enqueue())
        machine = sfn.create_state_machine(f"lambdarag-cc-{uuid.uuid4().hex[:8]}")
        # WHEN one execution per document starts at the same moment
        arns = [sfn.start_execution(machine, doc_id, {"workspace": workspace_name,
                                                      "doc_id": doc_id}) for doc_id in doc_ids]
        ended = [sfn.wait(arn, timeout=180) for arn in arns]
        # THEN every execution succeeds and every document is processed
        assert [status for status, _, _ in ended] == ["SUCCEEDED"] * len(doc_ids), [
            output for status, output, _ in ended if status != "SUCCEEDED"]
        statuses, nodes = asyncio.run(outcome(doc_ids))
        assert statuses == ["processed"] * len(doc_ids)
        assert nodes == 6
