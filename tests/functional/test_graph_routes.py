"""The graph routes over HTTP: labels, subgraphs, edits, and the fragment-model guarantees."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.indexing.merge import entity_vector_id, relation_vector_id
from tests.functional.conftest import insert, run, wait_track, workspace
from tests.functional.corpus import wait_for

POPULAR = [
    "Acme Corp", "Helios Satellite", "Bob Jones", "Alice Smith", "Berlin", "Dana Green",
    "Orbital Summit", "Carol White", "Delft University", "Space Weekly", "NASA",
]


# ---------------------------------------------------------------------- helpers


def node(client: TestClient, name: str) -> dict[str, Any] | None:
    """The node's properties as /graphs shows them, or None."""
    nodes = client.get("/graphs", params={"label": name, "max_depth": 1}).json()["nodes"]
    return next((n["properties"] for n in nodes if n["id"] == name), None)


def neighbours(client: TestClient, name: str) -> set[str]:
    edges = client.get("/graphs", params={"label": name, "max_depth": 1}).json()["edges"]
    return {e["target"] if e["source"] == name else e["source"] for e in edges
            if name in (e["source"], e["target"])}


def edge(client: TestClient, a: str, b: str) -> dict[str, Any] | None:
    edges = client.get("/graphs", params={"label": a, "max_depth": 1}).json()["edges"]
    want = {a, b}
    return next((e["properties"] for e in edges if {e["source"], e["target"]} == want), None)


def delete(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    return client.request("DELETE", path, json=body)


def delete_doc(client: TestClient, file_path: str) -> None:
    """Delete the document of ``file_path`` and wait until it is gone."""
    ws = workspace(client)
    (record,) = run(client, ws.stores.doc_status.by_file_path, file_path)
    response = delete(client, "/documents/delete_document", {"doc_ids": [record["id"]]})
    assert response.status_code == 200, response.text
    wait_for(lambda: run(client, ws.stores.doc_status.get, record["id"]) is None)


def entity_vector(client: TestClient, name: str) -> dict[str, Any] | None:
    ws = workspace(client)
    return run(client, ws.stores.entities_vdb.get_by_ids, [entity_vector_id(name)])[0]


def relation_vector(client: TestClient, a: str, b: str) -> dict[str, Any] | None:
    ws = workspace(client)
    return run(client, ws.stores.relationships_vdb.get_by_ids, [relation_vector_id(a, b)])[0]


def edit_entity(client: TestClient, name: str, data: dict[str, Any], **flags: bool) -> Any:
    return client.post("/graph/entity/edit",
                       json={"entity_name": name, "updated_data": data, **flags})


# ------------------------------------------------------------------------ reads


def test_label_list_and_popular(indexed: TestClient) -> None:
    assert indexed.get("/graph/label/list").json() == sorted(POPULAR)
    assert indexed.get("/graph/label/popular").json() == POPULAR
    assert indexed.get("/graph/label/popular", params={"limit": 3}).json() == POPULAR[:3]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/graph/label/popular", {"limit": 0}),
        ("/graph/label/popular", {"limit": 1001}),
        ("/graph/label/search", {"q": "a", "limit": 0}),
        ("/graph/label/search", {"q": "a", "limit": 101}),
        ("/graphs", {}),
        ("/graphs", {"label": "*", "max_depth": 0}),
        ("/graphs", {"label": "*", "max_nodes": 0}),
        ("/graph/entity/exists", {}),
    ],
)
def test_read_validation(indexed: TestClient, path: str, params: dict[str, Any]) -> None:
    assert indexed.get(path, params=params).status_code == 422


def test_label_search_scoring(indexed: TestClient) -> None:
    for name in ("Summit", "Summit Hall"):
        response = indexed.post("/graph/entity/create",
                                json={"entity_name": name, "entity_data": {"description": name}})
        assert response.status_code == 200, response.text
    found = indexed.get("/graph/label/search", params={"q": "SUMMIT"}).json()
    assert found == ["Summit", "Summit Hall", "Orbital Summit"]
    assert indexed.get("/graph/label/search", params={"q": "summit", "limit": 1}).json() == [
        "Summit"
    ]
    assert indexed.get("/graph/label/search", params={"q": ""}).json() == []
    assert indexed.get("/graph/label/search", params={"q": "zzz"}).json() == []


def test_whole_graph_ranked_by_degree(indexed: TestClient) -> None:
    full = indexed.get("/graphs", params={"label": "*"}).json()
    assert [n["id"] for n in full["nodes"]] == POPULAR
    assert len(full["edges"]) == 11 and full["is_truncated"] is False
    first = full["edges"][0]
    assert first["type"] == "DIRECTED" and first["id"] == f"{first['source']}-{first['target']}"
    top = indexed.get("/graphs", params={"label": "*", "max_nodes": 3}).json()
    assert [n["id"] for n in top["nodes"]] == POPULAR[:3] and top["is_truncated"] is True
    assert {(e["source"], e["target"]) for e in top["edges"]} == {("Acme Corp", "Bob Jones")}


def test_graph_capped_by_settings(indexed: TestClient) -> None:
    app = indexed.app
    app.state.settings = app.state.settings.model_copy(update={"max_graph_nodes": 2})  # type: ignore[attr-defined]
    capped = indexed.get("/graphs", params={"label": "*", "max_nodes": 1000}).json()
    assert [n["id"] for n in capped["nodes"]] == POPULAR[:2] and capped["is_truncated"]


def test_bfs_depth_and_max_nodes(indexed: TestClient) -> None:
    def names(**params: Any) -> tuple[set[str], bool]:
        graph = indexed.get("/graphs", params={"label": "Delft University", **params}).json()
        return {n["id"] for n in graph["nodes"]}, graph["is_truncated"]

    assert names(max_depth=1) == ({"Delft University", "Bob Jones"}, False)
    assert names(max_depth=2) == ({"Delft University", "Bob Jones", "Acme Corp", "Dana Green"},
                                  False)
    assert names(max_depth=2, max_nodes=3) == ({"Delft University", "Bob Jones", "Acme Corp"},
                                               True)
    assert names(max_depth=10)[0] == set(POPULAR) - {"NASA"}
    unknown = indexed.get("/graphs", params={"label": "Nowhere"}).json()
    assert unknown == {"nodes": [], "edges": [], "is_truncated": False}


def test_entity_exists(indexed: TestClient) -> None:
    assert indexed.get("/graph/entity/exists", params={"name": "Berlin"}).json() == {
        "exists": True
    }
    assert indexed.get("/graph/entity/exists", params={"name": "berlin"}).json() == {
        "exists": False
    }


# ---------------------------------------------------------------------- creates


def test_create_entity_and_relation(indexed: TestClient) -> None:
    body = {"entity_name": "Tesla",
            "entity_data": {"description": "An electric car maker.", "entity_type": "ORG"}}
    response = indexed.post("/graph/entity/create", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "success"
    assert result["message"] == "Entity 'Tesla' created successfully"
    assert result["data"]["entity_name"] == "Tesla"
    assert result["data"]["description"] == "An electric car maker."
    assert result["data"]["entity_type"] == "ORG"
    assert node(indexed, "Tesla")["description"] == "An electric car maker."  # type: ignore[index]
    assert entity_vector(indexed, "Tesla") is not None
    assert indexed.post("/graph/entity/create", json=body).status_code == 400

    relation = {"source_entity": "Tesla", "target_entity": "Berlin",
                "relation_data": {"description": "Tesla builds cars near Berlin.",
                                  "keywords": "factory", "weight": 3.0}}
    response = indexed.post("/graph/relation/create", json=relation)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["description"] == "Tesla builds cars near Berlin."
    props = edge(indexed, "Tesla", "Berlin")
    assert props is not None
    assert (props["keywords"], props["weight"]) == ("factory", 3.0)
    assert relation_vector(indexed, "Tesla", "Berlin") is not None
    assert indexed.post("/graph/relation/create", json=relation).status_code == 400
    for weight in ("heavy", None, -1, True):
        bad = {**relation, "target_entity": "Acme Corp",
               "relation_data": {**relation["relation_data"], "weight": weight}}
        rejected = indexed.post("/graph/relation/create", json=bad)
        assert rejected.status_code == 400, (weight, rejected.text)
        assert "weight" in rejected.json()["detail"]
    missing = {**relation, "target_entity": "Nowhere"}
    assert indexed.post("/graph/relation/create", json=missing).status_code == 400
    assert indexed.post("/graph/entity/create", json={"entity_name": "X"}).status_code == 422


# ------------------------------------------------------------------------ edits


def test_edit_entity(indexed: TestClient) -> None:
    response = edit_entity(indexed, "Berlin", {"description": "Capital of Germany.",
                                               "entity_type": "location"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["message"] == "Entity updated successfully"
    assert result["data"]["description"] == "Capital of Germany."
    assert result["operation_summary"]["renamed"] is False
    assert result["operation_summary"]["final_entity"] == "Berlin"
    props = node(indexed, "Berlin")
    assert props is not None
    assert (props["description"], props["entity_type"]) == ("Capital of Germany.", "location")
    again = edit_entity(indexed, "Berlin", {"description": "The German capital."})
    assert again.json()["data"]["description"] == "The German capital."


@pytest.mark.parametrize(
    ("name", "data", "flags"),
    [
        ("Berlin", {"weight": "1"}, {}),  # forbidden key
        ("Berlin", {"description": 3}, {}),  # not a string
        ("Nowhere", {"description": "x"}, {}),  # unknown entity
        ("Berlin", {"entity_name": "Acme Corp"}, {"allow_rename": True}),  # collision
        ("Berlin", {"entity_name": "Berlin City"}, {}),  # rename not allowed
    ],
)
def test_edit_entity_rejected(
    indexed: TestClient, name: str, data: dict[str, Any], flags: dict[str, bool]
) -> None:
    response = edit_entity(indexed, name, data, **flags)
    assert response.status_code == 400, response.text
    assert node(indexed, "Berlin")["description"].startswith("Berlin is mentioned")  # type: ignore[index]


def test_edit_relation(indexed: TestClient) -> None:
    body = {"source_id": "Berlin", "target_id": "Acme Corp",
            "updated_data": {"description": "Acme is based in Berlin.", "weight": 5}}
    response = indexed.post("/graph/relation/edit", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Relation updated successfully"
    assert response.json()["data"]["description"] == "Acme is based in Berlin."
    props = edge(indexed, "Acme Corp", "Berlin")
    assert props is not None
    assert (props["description"], props["weight"]) == ("Acme is based in Berlin.", 5.0)
    for bad in ({"weight": "heavy"}, {"colour": "red"}, {"keywords": 1}):
        rejected = indexed.post("/graph/relation/edit", json={**body, "updated_data": bad})
        assert rejected.status_code == 400, bad
    unknown = {**body, "target_id": "NASA"}
    assert indexed.post("/graph/relation/edit", json=unknown).status_code == 400


def test_rename_keeps_edges(indexed: TestClient) -> None:
    response = edit_entity(indexed, "Bob Jones", {"entity_name": "Robert Jones"},
                           allow_rename=True)
    assert response.status_code == 200, response.text
    summary = response.json()["operation_summary"]
    assert summary["renamed"] is True and summary["final_entity"] == "Robert Jones"
    assert summary["merged"] is False
    assert neighbours(indexed, "Robert Jones") == {"Acme Corp", "Dana Green", "Delft University"}
    assert node(indexed, "Bob Jones") is None
    assert entity_vector(indexed, "Bob Jones") is None
    assert entity_vector(indexed, "Robert Jones") is not None
    assert relation_vector(indexed, "Bob Jones", "Acme Corp") is None
    assert relation_vector(indexed, "Robert Jones", "Acme Corp") is not None
    delete_doc(indexed, "jones.txt")  # rebuild from the remaining (re-keyed) fragments
    assert neighbours(indexed, "Robert Jones") == {"Acme Corp"}
    assert "Bob Jones" not in indexed.get("/graph/label/list").json()


def test_rename_with_merge(indexed: TestClient) -> None:
    response = edit_entity(indexed, "Dana Green", {"entity_name": "Bob Jones"},
                           allow_rename=True, allow_merge=True)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["message"] == "Entity merged successfully into 'Bob Jones'"
    assert result["operation_summary"]["merged"] is True
    assert node(indexed, "Dana Green") is None
    assert neighbours(indexed, "Bob Jones") == {"Acme Corp", "Delft University"}


def test_merge_entities(indexed: TestClient) -> None:
    body = {"entities_to_change": ["Carol White", "Space Weekly"],
            "entity_to_change_into": "Alice Smith"}
    response = indexed.post("/graph/entities/merge", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["message"] == "Successfully merged 2 entities into 'Alice Smith'"
    assert result["data"]["entity_name"] == "Alice Smith"
    assert "Carol White" in result["data"]["description"]
    labels = indexed.get("/graph/label/list").json()
    assert "Carol White" not in labels and "Space Weekly" not in labels
    assert neighbours(indexed, "Alice Smith") == {"Acme Corp", "Helios Satellite"}
    missing = {**body, "entities_to_change": ["Nowhere"]}
    assert indexed.post("/graph/entities/merge", json=missing).status_code == 400
    empty = {**body, "entities_to_change": []}
    assert indexed.post("/graph/entities/merge", json=empty).status_code == 422


# ---------------------------------------------------------------------- deletes


@pytest.mark.parametrize("path", ["/graph/entity/delete", "/documents/delete_entity"])
def test_delete_entity(indexed: TestClient, path: str) -> None:
    response = delete(indexed, path, {"entity_name": "Bob Jones"})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "success", "doc_id": "",
                               "message": "Entity 'Bob Jones' deleted successfully",
                               "status_code": 200, "file_path": ""}
    assert node(indexed, "Bob Jones") is None
    assert "Bob Jones" not in neighbours(indexed, "Acme Corp")
    assert entity_vector(indexed, "Bob Jones") is None
    assert relation_vector(indexed, "Acme Corp", "Bob Jones") is None
    assert delete(indexed, path, {"entity_name": "Bob Jones"}).status_code == 404


@pytest.mark.parametrize("path", ["/graph/relation/delete", "/documents/delete_relation"])
def test_delete_relation(indexed: TestClient, path: str) -> None:
    body = {"source_entity": "Bob Jones", "target_entity": "Acme Corp"}
    response = delete(indexed, path, body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    assert edge(indexed, "Acme Corp", "Bob Jones") is None
    assert relation_vector(indexed, "Acme Corp", "Bob Jones") is None
    assert node(indexed, "Bob Jones") is not None
    assert delete(indexed, path, body).status_code == 404
    assert delete(indexed, path, {"source_entity": "x"}).status_code == 422


# ------------------------------------------------------------ fragment guarantees


def test_edit_survives_document_delete(indexed: TestClient) -> None:
    edited = "Bob Jones is the chief engineer of Acme Corp."
    assert edit_entity(indexed, "Bob Jones", {"description": edited}).status_code == 200
    delete_doc(indexed, "jones.txt")  # rebuilds Bob Jones from the remaining fragments
    assert node(indexed, "Bob Jones")["description"] == edited  # type: ignore[index]


def test_edited_type_survives_rebuild(indexed: TestClient) -> None:
    response = edit_entity(indexed, "Bob Jones", {"entity_type": "engineer"})
    assert response.status_code == 200, response.text
    before = node(indexed, "Bob Jones")
    assert before is not None and before["entity_type"] == "engineer"
    delete_doc(indexed, "jones.txt")
    after = node(indexed, "Bob Jones")
    assert after is not None
    assert after["entity_type"] == "engineer"
    assert "studied physics" not in after["description"]  # jones.txt's evidence is gone


def test_second_edit_replaces_first(indexed: TestClient) -> None:
    assert edit_entity(indexed, "Berlin", {"description": "First."}).status_code == 200
    assert edit_entity(indexed, "Berlin", {"description": "Second."}).status_code == 200
    delete_doc(indexed, "acme.txt")  # a rebuild must not bring "First." back
    assert node(indexed, "Berlin")["description"] == "Second."  # type: ignore[index]


def test_relation_edit_survives_rebuild(indexed: TestClient) -> None:
    body = {"source_id": "Bob Jones", "target_id": "Acme Corp",
            "updated_data": {"description": "Bob leads Acme's engineering.",
                             "keywords": "leadership", "weight": 0.5}}
    assert indexed.post("/graph/relation/edit", json=body).status_code == 200
    delete_doc(indexed, "jones.txt")
    props = edge(indexed, "Bob Jones", "Acme Corp")
    assert props is not None
    assert (props["description"], props["keywords"], props["weight"]) == (
        "Bob leads Acme's engineering.", "leadership", 0.5)


def test_edit_extended_by_later_document(indexed: TestClient) -> None:
    edited = "Berlin is the capital of Germany."
    assert edit_entity(indexed, "Berlin", {"description": edited}).status_code == 200
    wait_track(indexed, insert(indexed, "Berlin welcomed the Space Fair in May.", "fair.txt"))
    description = node(indexed, "Berlin")["description"]  # type: ignore[index]
    assert description.startswith(edited)
    assert "Space Fair" in description
    delete_doc(indexed, "fair.txt")  # back to exactly what the user wrote
    assert node(indexed, "Berlin")["description"] == edited  # type: ignore[index]


def test_deleted_entity_stays_deleted_after_rebuild(indexed: TestClient) -> None:
    assert delete(indexed, "/graph/entity/delete", {"entity_name": "Berlin"}).status_code == 200
    delete_doc(indexed, "acme.txt")  # rebuilds every key acme.txt mentioned
    labels = indexed.get("/graph/label/list").json()
    assert "Berlin" not in labels
    assert "Berlin" not in neighbours(indexed, "Orbital Summit")


def test_deleted_relation_stays_deleted_after_rebuild(indexed: TestClient) -> None:
    body = {"source_entity": "Acme Corp", "target_entity": "Bob Jones"}
    assert delete(indexed, "/graph/relation/delete", body).status_code == 200
    delete_doc(indexed, "jones.txt")
    assert edge(indexed, "Acme Corp", "Bob Jones") is None
    assert node(indexed, "Bob Jones") is not None


def test_rename_and_describe_in_one_edit(indexed: TestClient) -> None:
    data = {"entity_name": "Delft", "description": "A Dutch university."}
    response = edit_entity(indexed, "Delft University", data, allow_rename=True)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["entity_name"] == "Delft"
    assert response.json()["data"]["description"] == "A Dutch university."
    assert node(indexed, "Delft")["description"] == "A Dutch university."  # type: ignore[index]
    assert neighbours(indexed, "Delft") == {"Bob Jones"}
    assert indexed.get("/graph/entity/exists", params={"name": "Delft University"}).json() == {
        "exists": False
    }


def test_mutations_allowed_while_indexing(indexed: TestClient) -> None:
    track = insert(indexed, "Erin Black joined Acme Corp in Berlin.", "erin.txt")
    response = edit_entity(indexed, "NASA", {"description": "The US space agency."})
    assert response.status_code == 200, response.text
    wait_track(indexed, track)
    assert node(indexed, "NASA")["description"] == "The US space agency."  # type: ignore[index]
