"""Tenant isolation: two workspaces (LIGHTRAG-WORKSPACE ``tenant_a`` / ``tenant_b``) never
see, change or answer from each other's data, on any route.

Reads run against one module-wide server holding both tenants. Each write test gets its own
server in which both tenants hold a document with the *same* file name (hence the same doc
id and chunk ids) and the same entity and relation names, so a store that mixed workspaces
up would show it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from lambdarag.config import Settings
from lambdarag.utils import mdhash
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, run, workspace
from tests.functional.corpus import wait_for

HEADER = "LIGHTRAG-WORKSPACE"
MODES = ["local", "global", "hybrid", "naive", "mix"]
QUESTION = "What do Acme Corp and Zenith Labs build, and who founded them?"


@dataclass
class Tenant:
    """One workspace's documents, the names they produce, and what the API returned."""

    name: str
    texts: dict[str, str]
    upload: tuple[str, str]
    entities: list[str]
    shared: frozenset[str] = frozenset()  # file names both tenants use (not markers)
    track_ids: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {HEADER: self.name}

    @property
    def files(self) -> list[str]:
        return sorted([*self.texts, self.upload[0]])

    @property
    def doc_ids(self) -> list[str]:
        return [mdhash(name, "doc-") for name in self.files]

    @property
    def markers(self) -> list[str]:
        """Strings that only this tenant's data can produce."""
        own = [name for name in self.files if name not in self.shared]
        return [*self.entities, *own, *(mdhash(name, "doc-") for name in own)]


def tenant_a() -> Tenant:
    return Tenant(
        "tenant_a",
        {
            "alpha_founding.txt": "Alice Smith founded Acme Corp in Berlin. "
            "Acme Corp builds rockets for the Orion Agency.",
            "alpha_staff.txt": "Bob Jones joined Acme Corp as chief engineer. "
            "Bob Jones studied physics at Delft University.",
        },
        ("alpha_audit.txt", "Carol White audits Acme Corp every spring."),
        ["Alice Smith", "Acme Corp", "Berlin", "Orion Agency", "Bob Jones", "Delft University",
         "Carol White"],
    )


def tenant_b() -> Tenant:
    return Tenant(
        "tenant_b",
        {
            "beta_founding.txt": "Zoe Quinn founded Zenith Labs in Lisbon. "
            "Zenith Labs builds drones for the Polar Institute.",
            "beta_staff.txt": "Yuri Vance joined Zenith Labs as lead designer. "
            "Yuri Vance studied design at Porto University.",
            "beta_news.txt": "Wendy Park reported on Zenith Labs for Drone Weekly.",
        },
        ("beta_audit.txt", "Xena Hart audits Zenith Labs every autumn."),
        ["Zoe Quinn", "Zenith Labs", "Lisbon", "Polar Institute", "Yuri Vance", "Porto University",
         "Wendy Park", "Drone Weekly", "Xena Hart"],
    )


@dataclass
class World:
    client: TestClient
    settings: Settings
    a: Tenant
    b: Tenant

    def pairs(self) -> list[tuple[Tenant, Tenant]]:
        """(tenant, the other tenant), both ways round."""
        return [(self.a, self.b), (self.b, self.a)]


def text_of(payload: Any) -> str:
    return payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)


def assert_none_of(other: Tenant, payload: Any) -> None:
    text = text_of(payload)
    leaked = [marker for marker in other.markers if marker in text]
    assert not leaked, f"{other.name}'s {leaked} leaked into: {text[:500]}"


def wait_processed(client: TestClient, tenant: Tenant) -> None:
    def done() -> bool:
        docs = []
        for track_id in tenant.track_ids:
            docs += client.get(f"/documents/track_status/{track_id}",
                               headers=tenant.headers).json()["documents"]
        return len(docs) == len(tenant.files) and all(d["status"] == "processed" for d in docs)

    wait_for(done, timeout=60)


def fill(client: TestClient, tenant: Tenant) -> None:
    """Insert the tenant's texts and upload its file, through the API, and wait for indexing."""
    for source, text in tenant.texts.items():
        response = client.post("/documents/text", json={"text": text, "file_source": source},
                               headers=tenant.headers)
        assert response.status_code == 200, response.text
        tenant.track_ids.append(response.json()["track_id"])
    name, text = tenant.upload
    response = client.post("/documents/upload", files={"file": (name, text.encode(), "text/plain")},
                           headers=tenant.headers)
    assert response.status_code == 200, response.text
    tenant.track_ids.append(response.json()["track_id"])


def make_world(client: TestClient, settings: Settings) -> World:
    world = World(client, settings, tenant_a(), tenant_b())
    for tenant in (world.a, world.b):
        fill(client, tenant)
    for tenant in (world.a, world.b):
        wait_processed(client, tenant)
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory,
          fake_llm_session: FakeLLMServer) -> Iterator[World]:
    """One server whose tenant_a and tenant_b hold different documents (read-only tests)."""
    settings = fake_settings(tmp_path_factory.mktemp("isolation"), fake_llm_session)
    with TestClient(create_app(settings)) as client:
        yield make_world(client, settings)


# ------------------------------------------------------------------ document reads


def test_uploads_land_in_each_tenants_own_input_folder(world: World) -> None:
    for tenant, other in world.pairs():
        files = [p.name for p in (world.settings.input_dir / tenant.name).rglob("*")
                 if p.is_file()]
        assert tenant.upload[0] in files
        assert other.upload[0] not in files


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/documents", None),
        ("POST", "/documents/paginated", {"page": 1, "page_size": 100}),
        ("POST", "/documents/paginated", {"status_filter": "processed", "sort_field": "file_path"}),
    ],
)
def test_document_lists_hold_only_own_documents(
    world: World, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for tenant, other in world.pairs():
        # WHEN a tenant lists its documents
        response = world.client.request(method, path, json=body, headers=tenant.headers)
        # THEN it sees every one of its own and nothing of the other's
        assert response.status_code == 200, response.text
        payload = response.json()
        docs = payload["documents"] if "documents" in payload else [
            d for group in payload["statuses"].values() for d in group]
        assert sorted(d["file_path"] for d in docs) == tenant.files
        assert sorted(d["id"] for d in docs) == sorted(tenant.doc_ids)
        assert_none_of(other, payload)
        if "status_counts" in payload:
            assert payload["status_counts"]["all"] == len(tenant.files)


def test_status_counts_count_only_own_documents(world: World) -> None:
    for tenant, _ in world.pairs():
        counts = world.client.get("/documents/status_counts", headers=tenant.headers).json()
        assert counts["status_counts"]["processed"] == len(tenant.files)
        assert counts["status_counts"]["all"] == len(tenant.files)


def test_a_track_id_of_the_other_tenant_finds_nothing(world: World) -> None:
    for tenant, other in world.pairs():
        for track_id in other.track_ids:
            # WHEN a tenant asks for a track id the other tenant received
            found = world.client.get(f"/documents/track_status/{track_id}",
                                     headers=tenant.headers).json()
            # THEN it is unknown here
            assert found == {"track_id": track_id, "documents": [], "total_count": 0,
                             "status_summary": {}}
        own = [world.client.get(f"/documents/track_status/{t}", headers=tenant.headers).json()
               for t in tenant.track_ids]
        assert sum(o["total_count"] for o in own) == len(tenant.files)


def test_pipeline_status_shows_only_own_jobs(world: World) -> None:
    for tenant, other in world.pairs():
        status = world.client.get("/documents/pipeline_status", headers=tenant.headers).json()
        history = "\n".join(status["history_messages"])
        assert any(name in history for name in tenant.files), history
        assert_none_of(other, status)


def test_health_reports_only_the_requested_workspace(world: World) -> None:
    for tenant, other in world.pairs():
        health = world.client.get("/health", headers=tenant.headers).json()
        assert health["configuration"]["workspace"] == tenant.name
        assert_none_of(other, health)


def test_scan_status_is_private_to_its_workspace(world: World) -> None:
    # GIVEN a scan started by tenant_b
    track_id = world.client.post("/documents/scan", headers=world.b.headers).json()["track_id"]
    wait_for(lambda: world.client.get(f"/documents/scan/status/{track_id}",
                                      headers=world.b.headers).json()["status"] == "completed")
    # WHEN tenant_a asks for it
    response = world.client.get(f"/documents/scan/status/{track_id}", headers=world.a.headers)
    # THEN it does not exist for tenant_a
    assert response.status_code == 404
    assert response.json() == {"detail": f"Scan job {track_id} not found"}


# ------------------------------------------------------------------------ queries


@pytest.mark.parametrize("mode", MODES)
def test_query_answers_only_from_own_data(world: World, mode: str) -> None:
    for tenant, other in world.pairs():
        # WHEN both tenants ask a question naming both tenants' entities
        response = world.client.post(
            "/query", json={"query": QUESTION, "mode": mode, "include_chunk_content": True},
            headers=tenant.headers,
        )
        # THEN the answer and references come from the tenant's own files only
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["llm_generated"] is True, answer
        cited = {ref["file_path"] for ref in answer["references"]}
        assert cited and cited <= set(tenant.files), answer
        if mode != "naive":
            assert any(name in answer["response"] for name in tenant.entities), answer
        assert_none_of(other, answer)


def test_bypass_answers_without_either_knowledge_base(world: World) -> None:
    for tenant, other in world.pairs():
        answer = world.client.post("/query", json={"query": "Summarise everything you know.",
                                                   "mode": "bypass"}, headers=tenant.headers).json()
        assert answer["response"].startswith("Echo: Summarise everything you know.")
        assert_none_of(other, answer)
        assert_none_of(tenant, answer)


@pytest.mark.parametrize("mode", MODES)
def test_query_stream_answers_only_from_own_data(world: World, mode: str) -> None:
    for tenant, other in world.pairs():
        response = world.client.post("/query/stream", json={"query": QUESTION, "mode": mode},
                                     headers=tenant.headers)
        assert response.status_code == 200, response.text
        lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
        refs = next(line["references"] for line in lines if "references" in line)
        assert refs and {r["file_path"] for r in refs} <= set(tenant.files)
        text = "".join(line.get("response", "") for line in lines)
        assert "Answer from context" in text
        assert_none_of(other, lines)


@pytest.mark.parametrize("mode", MODES)
def test_query_data_retrieves_only_own_data(world: World, mode: str) -> None:
    for tenant, other in world.pairs():
        response = world.client.post("/query/data", json={"query": QUESTION, "mode": mode},
                                     headers=tenant.headers)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["status"] == "success", result
        data = result["data"]
        assert data["chunks"], data
        assert {c["file_path"] for c in data["chunks"]} <= set(tenant.files)
        assert {e["entity_name"] for e in data["entities"]} <= set(tenant.entities)
        # (metadata.keywords echo the question, which names both tenants' entities)
        assert_none_of(other, data)


def test_the_same_question_is_answered_from_each_workspaces_own_cache(
    world: World, fake_llm: FakeLLMServer
) -> None:
    # GIVEN tenant_a asked a question (its answer and keywords are now in its LLM cache)
    body = {"query": "Who founded the company, and what does it build?", "mode": "mix"}
    first_a = world.client.post("/query", json=body, headers=world.a.headers).json()
    calls_after_a = len(fake_llm.requests)
    # WHEN tenant_b asks exactly the same question
    answer_b = world.client.post("/query", json=body, headers=world.b.headers).json()
    # THEN tenant_b's answer is built from its own data by fresh LLM calls, not tenant_a's cache
    assert len(fake_llm.requests) > calls_after_a
    assert answer_b["response"] != first_a["response"]
    assert any(name in answer_b["response"] for name in world.b.entities)
    assert_none_of(world.a, answer_b)
    # AND tenant_a asking again still gets its own (cached) answer
    again_a = world.client.post("/query", json=body, headers=world.a.headers).json()
    assert again_a["response"] == first_a["response"]
    assert_none_of(world.b, again_a)
    # AND each workspace's cache holds its own answer
    for tenant, answer in ((world.a, first_a), (world.b, answer_b)):
        cache = workspace(world.client, tenant.name).stores.llm_response_cache
        cached = [run(world.client, cache.get_by_id, key)["return"]
                  for key in run(world.client, cache.keys, "mix:query:")]
        assert answer["response"] in cached
        assert_none_of(world.b if tenant is world.a else world.a, cached)


# -------------------------------------------------------------------------- graph


def test_label_routes_list_only_own_entities(world: World) -> None:
    for tenant, other in world.pairs():
        labels = world.client.get("/graph/label/list", headers=tenant.headers).json()
        assert set(tenant.entities) <= set(labels)
        assert_none_of(other, labels)
        popular = world.client.get("/graph/label/popular", headers=tenant.headers).json()
        assert sorted(popular) == sorted(labels)


def test_label_search_finds_only_own_entities(world: World) -> None:
    for tenant, other in world.pairs():
        for entity in other.entities:
            found = world.client.get("/graph/label/search", params={"q": entity},
                                     headers=tenant.headers).json()
            assert found == [], (tenant.name, entity, found)
        own = world.client.get("/graph/label/search", params={"q": tenant.entities[0]},
                               headers=tenant.headers).json()
        assert own[0] == tenant.entities[0]
        broad = world.client.get("/graph/label/search", params={"q": "e", "limit": 100},
                                 headers=tenant.headers).json()
        assert broad and not set(broad) & set(other.entities)


def test_subgraphs_hold_only_own_nodes(world: World) -> None:
    for tenant, other in world.pairs():
        whole = world.client.get("/graphs", params={"label": "*"}, headers=tenant.headers).json()
        assert set(tenant.entities) <= {n["id"] for n in whole["nodes"]}
        assert_none_of(other, whole)
        for entity in other.entities:
            around = world.client.get("/graphs", params={"label": entity},
                                      headers=tenant.headers).json()
            assert around == {"nodes": [], "edges": [], "is_truncated": False}


def test_entity_exists_only_in_its_own_workspace(world: World) -> None:
    for tenant, other in world.pairs():
        for entity in tenant.entities:
            assert world.client.get("/graph/entity/exists", params={"name": entity},
                                    headers=tenant.headers).json() == {"exists": True}
        for entity in other.entities:
            assert world.client.get("/graph/entity/exists", params={"name": entity},
                                    headers=tenant.headers).json() == {"exists": False}


# ------------------------------------------------------------------ chat front ends


def ollama_chat(world: World, model: str, headers: dict[str, str]) -> str:
    response = world.client.post(
        "/api/chat", headers=headers,
        json={"model": model, "stream": False, "messages": [{"role": "user", "content": QUESTION}]},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["message"]["content"])


def openai_chat(world: World, model: str, headers: dict[str, str]) -> str:
    response = world.client.post(
        "/v1/chat/completions", headers=headers,
        json={"model": model, "messages": [{"role": "user", "content": QUESTION}]},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


@pytest.mark.parametrize("chat", [ollama_chat, openai_chat], ids=["ollama", "openai"])
def test_chat_answers_from_the_workspace_the_model_or_header_names(world: World, chat: Any) -> None:
    for tenant, other in world.pairs():
        # WHEN the knowledge base is picked by model name, without a header
        by_model = chat(world, f"lightrag:{tenant.name}", {})
        # AND when it is picked by the header, with the default model
        by_header = chat(world, "lightrag:latest", tenant.headers)
        # THEN both answers come from that tenant only
        for answer in (by_model, by_header):
            assert any(name in answer for name in tenant.entities), answer
            assert any(name in answer for name in tenant.files), answer
            assert_none_of(other, answer)


def test_model_lists_carry_no_data_of_another_workspace(world: World) -> None:
    for tenant, other in world.pairs():
        tags = world.client.get("/api/tags", headers=tenant.headers).json()
        assert tags["models"][0]["name"] == "lightrag:latest"
        shown = world.client.post("/api/show", json={"model": "lightrag:latest"},
                                  headers=tenant.headers).json()
        assert shown["model_info"]["lightrag.workspace"] == tenant.name
        models = world.client.get("/v1/models", headers=tenant.headers).json()
        for listing in (tags, models):
            assert_none_of(other, listing)


# ------------------------------------------------------------------------- writes

SHARED_FILE = "shared.txt"


def shared_world(client: TestClient, settings: Settings) -> World:
    """Both tenants hold shared.txt (same doc id, same chunk id), with the same entity and
    relation names but different facts, plus one uploaded file each."""
    a = Tenant("tenant_a", {SHARED_FILE: "Alice Smith chairs the Harbor Council. "
                            "The Harbor Council manages the Tide Fund in Berlin."},
               ("alpha_upload.txt", "Bob Jones audits the Tide Fund."),
               ["Alice Smith", "Berlin", "Bob Jones"], frozenset({SHARED_FILE}))
    b = Tenant("tenant_b", {SHARED_FILE: "Zoe Quinn chairs the Harbor Council. "
                            "The Harbor Council manages the Tide Fund in Lisbon."},
               ("beta_upload.txt", "Yuri Vance audits the Tide Fund."),
               ["Zoe Quinn", "Lisbon", "Yuri Vance"], frozenset({SHARED_FILE}))
    world = World(client, settings, a, b)
    for tenant in (a, b):
        fill(client, tenant)
    for tenant in (a, b):
        wait_processed(client, tenant)
    return world


@pytest.fixture
def shared(tmp_path: Path, fake_llm: FakeLLMServer) -> Iterator[World]:
    settings = fake_settings(tmp_path, fake_llm)
    with TestClient(create_app(settings)) as client:
        yield shared_world(client, settings)


def snapshot(world: World, tenant: Tenant) -> dict[str, Any]:
    """Everything a tenant can read, plus its LLM cache keys and input files."""
    client, headers = world.client, tenant.headers
    docs = client.post("/documents/paginated", json={"page_size": 200}, headers=headers).json()
    ws = workspace(client, tenant.name)
    folder = world.settings.input_dir / tenant.name
    return {
        "documents": docs,
        "counts": client.get("/documents/status_counts", headers=headers).json(),
        "labels": client.get("/graph/label/list", headers=headers).json(),
        "graph": client.get("/graphs", params={"label": "*"}, headers=headers).json(),
        "data": client.post("/query/data", json={"query": "Who chairs the Harbor Council?"},
                            headers=headers).json(),
        "history": client.get("/documents/pipeline_status", headers=headers)
        .json()["history_messages"],
        "cache": run(client, ws.stores.llm_response_cache.keys),
        "files": sorted(p.name for p in folder.rglob("*")) if folder.exists() else [],
        "fragments": run(client, ws.stores.fragments.entity_fragments, ["Harbor Council"]),
    }


def node(world: World, tenant: Tenant, name: str) -> dict[str, Any] | None:
    nodes = world.client.get("/graphs", params={"label": name, "max_depth": 1},
                             headers=tenant.headers).json()["nodes"]
    return next((n["properties"] for n in nodes if n["id"] == name), None)


def test_both_tenants_share_ids_but_not_data(shared: World) -> None:
    # GIVEN the same file name in both tenants: the same doc id and the same chunk ids
    for tenant, other in shared.pairs():
        harbor = node(shared, tenant, "Harbor Council")
        assert harbor is not None
        assert f"{tenant.entities[0]} chairs" in harbor["description"]
        assert_none_of(other, harbor)


def test_deleting_a_document_leaves_the_other_tenant_intact(shared: World) -> None:
    before = snapshot(shared, shared.b)
    doc_id = mdhash(SHARED_FILE, "doc-")
    # WHEN tenant_a deletes shared.txt (a doc id tenant_b also has)
    response = shared.client.request("DELETE", "/documents/delete_document",
                                     json={"doc_ids": [doc_id], "delete_file": True},
                                     headers=shared.a.headers)
    assert response.status_code == 200, response.text
    wait_for(lambda: node(shared, shared.a, "Harbor Council") is None)
    # THEN tenant_a lost it, and tenant_b reads exactly what it read before
    docs_a = shared.client.get("/documents", headers=shared.a.headers).json()
    assert SHARED_FILE not in json.dumps(docs_a)
    assert snapshot(shared, shared.b) == before


def test_source_conflicts_are_listed_and_repaired_per_workspace(shared: World) -> None:
    # GIVEN tenant_b holds a second document claiming shared.txt (as data from an older
    # version would); tenant_a's shared.txt has one owner
    ws_b = workspace(shared.client, "tenant_b")
    original = run(shared.client, ws_b.stores.doc_status.get, mdhash(SHARED_FILE, "doc-"))
    legacy_id = mdhash("legacy shared text", "doc-")
    run(shared.client, ws_b.stores.doc_status.upsert, [{**original, "id": legacy_id}])
    conflict = {"canonical_source_key": SHARED_FILE, "candidate_count": 2,
                "sample_doc_ids": sorted([original["id"], legacy_id])}
    # WHEN each tenant lists its conflicts
    listed_a = shared.client.get("/documents/source_conflicts", headers=shared.a.headers).json()
    listed_b = shared.client.get("/documents/source_conflicts", headers=shared.b.headers).json()
    # THEN only tenant_b has one, and tenant_a cannot repair it
    assert listed_a == {"conflicts": [], "next_cursor": None}
    assert listed_b == {"conflicts": [conflict], "next_cursor": None}
    body = {"canonical_source_key": SHARED_FILE, "primary_doc_id": original["id"],
            "dry_run": False}
    repaired = shared.client.post("/documents/source_conflicts/repair", json=body,
                                  headers=shared.a.headers)
    assert repaired.status_code == 404, repaired.text
    assert shared.client.get("/documents/source_conflicts",
                             headers=shared.b.headers).json() == listed_b


def test_a_cached_answer_is_not_reused_once_its_document_is_deleted(shared: World) -> None:
    # GIVEN tenant_a's answer to a question, built from both of its documents (now cached)
    body = {"query": "Who chairs the Harbor Council, and who audits the Tide Fund?"}
    headers = shared.a.headers
    first = shared.client.post("/query", json=body, headers=headers).json()
    assert "Alice Smith" in first["response"] and SHARED_FILE in first["response"]
    # WHEN shared.txt is deleted and the same question is asked again
    doc_id = mdhash(SHARED_FILE, "doc-")
    shared.client.request("DELETE", "/documents/delete_document", json={"doc_ids": [doc_id]},
                          headers=headers)
    wait_for(lambda: node(shared, shared.a, "Alice Smith") is None)
    again = shared.client.post("/query", json=body, headers=headers).json()
    # THEN the answer comes from what is left, not from the cache of the deleted data
    assert "Bob Jones" in again["response"]
    assert "Alice Smith" not in again["response"] and SHARED_FILE not in again["response"]
    assert {r["file_path"] for r in again["references"]} == {shared.a.upload[0]}


def test_entity_and_relation_edits_stay_in_their_workspace(shared: World) -> None:
    before = snapshot(shared, shared.b)
    client, headers = shared.client, shared.a.headers
    # WHEN tenant_a edits an entity and a relation that tenant_b has under the same names
    edited = client.post("/graph/entity/edit", headers=headers, json={
        "entity_name": "Harbor Council", "updated_data": {"description": "Edited by tenant_a."}})
    assert edited.status_code == 200, edited.text
    relation = client.post("/graph/relation/edit", headers=headers, json={
        "source_id": "Harbor Council", "target_id": "Tide Fund",
        "updated_data": {"description": "Relation edited by tenant_a.", "weight": 7.0}})
    assert relation.status_code == 200, relation.text
    created = client.post("/graph/entity/create", headers=headers, json={
        "entity_name": "Zoe Quinn", "entity_data": {"description": "tenant_a's own Zoe."}})
    assert created.status_code == 200, created.text
    # THEN tenant_a sees its edits and tenant_b nothing of them
    assert node(shared, shared.a, "Harbor Council")["description"] == "Edited by tenant_a."
    assert snapshot(shared, shared.b) == before
    # WHEN tenant_a renames, then deletes entities
    renamed = client.post("/graph/entity/edit", headers=headers, json={
        "entity_name": "Harbor Council", "updated_data": {"entity_name": "Port Council"},
        "allow_rename": True})
    assert renamed.status_code == 200, renamed.text
    for name in ("Port Council", "Tide Fund"):
        deleted = client.request("DELETE", "/graph/entity/delete", headers=headers,
                                 json={"entity_name": name})
        assert deleted.status_code == 200, deleted.text
    deleted = client.request("DELETE", "/graph/relation/delete", headers=headers,
                             json={"source_entity": "Alice Smith", "target_entity": "Harbor Council"})
    assert deleted.status_code == 404  # gone with the rename; tenant_b's namesake is not touched
    # THEN tenant_b still reads exactly what it read before
    assert snapshot(shared, shared.b) == before
    assert client.get("/graph/entity/exists", params={"name": "Port Council"},
                      headers=shared.b.headers).json() == {"exists": False}


def test_merging_entities_stays_in_its_workspace(shared: World) -> None:
    before = snapshot(shared, shared.b)
    merged = shared.client.post("/graph/entities/merge", headers=shared.a.headers, json={
        "entities_to_change": ["Tide Fund"], "entity_to_change_into": "Harbor Council"})
    assert merged.status_code == 200, merged.text
    assert snapshot(shared, shared.b) == before


def test_clearing_the_llm_cache_clears_only_own_cache(shared: World) -> None:
    for tenant in (shared.a, shared.b):
        shared.client.post("/query", json={"query": "Who chairs the Harbor Council?"},
                           headers=tenant.headers)
    before = snapshot(shared, shared.b)
    assert before["cache"]
    # WHEN tenant_a clears its LLM cache
    response = shared.client.post("/documents/clear_cache", json={}, headers=shared.a.headers)
    assert response.json() == {"status": "success", "message": "Successfully cleared all cache"}
    # THEN its cache is empty and tenant_b's is whole
    ws_a = workspace(shared.client, "tenant_a")
    assert run(shared.client, ws_a.stores.llm_response_cache.keys) == []
    assert snapshot(shared, shared.b) == before


def test_clearing_all_documents_clears_only_own_workspace(shared: World) -> None:
    before = snapshot(shared, shared.b)
    # WHEN tenant_a clears everything
    response = shared.client.delete("/documents", headers=shared.a.headers)
    assert response.json()["status"] == "success", response.text
    assert response.json()["message"] == "All documents cleared successfully. Deleted 1 files."
    # THEN tenant_a is empty, its input file is gone, and tenant_b is untouched
    headers = shared.a.headers
    assert shared.client.get("/graph/label/list", headers=headers).json() == []
    assert shared.client.get("/documents/status_counts", headers=headers).json()[
        "status_counts"]["all"] == 0
    assert not (shared.settings.input_dir / "tenant_a" / shared.a.upload[0]).exists()
    assert snapshot(shared, shared.b) == before
    assert (shared.settings.input_dir / "tenant_b" / shared.b.upload[0]).exists()


def test_the_default_workspace_does_not_reach_into_named_ones(shared: World) -> None:
    before = {t.name: snapshot(shared, t) for t in (shared.a, shared.b)}
    # WHEN the default (root) workspace, whose input folder contains the tenants' folders,
    # scans and then clears everything
    track = shared.client.post("/documents/scan").json()["track_id"]
    wait_for(lambda: shared.client.get(f"/documents/scan/status/{track}").json()["status"]
             == "completed")
    assert shared.client.get(f"/documents/scan/status/{track}").json()["counts"] == {}
    assert shared.client.delete("/documents").json()["status"] == "success"
    # THEN the tenants' files and data are untouched
    assert shared.client.get("/documents/status_counts").json()["status_counts"]["all"] == 0
    assert {t.name: snapshot(shared, t) for t in (shared.a, shared.b)} == before


def test_a_workspace_cannot_use_the_default_workspaces_parsed_folder(shared: World) -> None:
    # GIVEN the default workspace indexed a file by scanning; it now sits in __parsed__
    folder = shared.settings.input_dir
    (folder / "root_secret.txt").write_text("Mallory Stone keeps the root ledger.")
    track = shared.client.post("/documents/scan").json()["track_id"]
    wait_for(lambda: shared.client.get(f"/documents/scan/status/{track}").json()["status"]
             == "completed")
    assert (folder / "__parsed__" / "root_secret.txt").exists()
    # WHEN a request names the workspace "__parsed__" and scans or clears
    headers = {HEADER: "__parsed__"}
    scanned = shared.client.post("/documents/scan", headers=headers)
    cleared = shared.client.delete("/documents", headers=headers)
    # THEN it is refused, and the default workspace's parsed file stays where it was
    assert scanned.status_code == 400, scanned.text
    assert cleared.status_code == 400, cleared.text
    assert (folder / "__parsed__" / "root_secret.txt").exists()
