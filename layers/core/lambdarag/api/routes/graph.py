"""Graph routes: labels, subgraphs and entity/relation editing.

Thin: validation and wire shapes here, the work in ``lambdarag.graph.edits``. Mutations
are allowed while indexing runs (they are fragment writes plus per-key merges).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from lambdarag.api.deps import SettingsDep, WorkspaceDep
from lambdarag.api.schemas import error_response, example_response, validation_example
from lambdarag.graph import edits as graph_ops

router = APIRouter(tags=["graph"])


# ----------------------------------------------------------------------- bodies


class EntityCreateRequest(BaseModel):
    entity_name: str = Field(min_length=1, examples=["Tesla"])
    entity_data: dict[str, Any] = Field(
        examples=[{"description": "An electric vehicle maker.", "entity_type": "ORGANIZATION"}]
    )


class RelationCreateRequest(BaseModel):
    source_entity: str = Field(min_length=1, examples=["Elon Musk"])
    target_entity: str = Field(min_length=1, examples=["Tesla"])
    relation_data: dict[str, Any] = Field(
        examples=[{"description": "Elon Musk leads Tesla.", "keywords": "CEO, leadership",
                   "weight": 1.0}]
    )


class EntityUpdateRequest(BaseModel):
    entity_name: str = Field(min_length=1, examples=["Tesla"])
    updated_data: dict[str, Any] = Field(
        examples=[{"description": "Tesla, Inc. builds electric cars.", "entity_type": "COMPANY"}]
    )
    allow_rename: bool = False
    allow_merge: bool = False


class RelationUpdateRequest(BaseModel):
    source_id: str = Field(min_length=1, examples=["Elon Musk"])
    target_id: str = Field(min_length=1, examples=["Tesla"])
    updated_data: dict[str, Any] = Field(
        examples=[{"description": "Elon Musk is the CEO of Tesla.", "weight": 2.0}]
    )


class DeleteEntityRequest(BaseModel):
    entity_name: str = Field(min_length=1, examples=["Tesla"])


class DeleteRelationRequest(BaseModel):
    source_entity: str = Field(min_length=1, examples=["Elon Musk"])
    target_entity: str = Field(min_length=1, examples=["Tesla"])


class EntityMergeRequest(BaseModel):
    entities_to_change: list[str] = Field(min_length=1, examples=[["Elon Msk", "E. Musk"]])
    entity_to_change_into: str = Field(min_length=1, examples=["Elon Musk"])


class GraphDeleteResponse(BaseModel):
    status: str = "success"
    doc_id: str = ""
    message: str
    status_code: int = 200
    file_path: str = ""


# ------------------------------------------------------------------ OpenAPI examples

LABELS = ["Acme Corp", "Alice Smith", "Berlin"]
CHUNK_ID = "doc-6f1ed002ab5595859014ebf0951522d9-chunk-000"
TESLA = {"entity_name": "Tesla", "entity_id": "Tesla", "entity_type": "ORGANIZATION",
         "description": "An electric vehicle maker.",
         "source_id": "manual-8f3182163857c5463c883017ff1cd3cc",
         "file_path": "manual_creation", "created_at": 1767225600}
TESLA_EDGE = {"src_id": "Elon Musk", "tgt_id": "Tesla", "description": "Elon Musk leads Tesla.",
              "keywords": "CEO, leadership", "weight": 1.0,
              "source_id": "manual-b556c2ecc6014789b4031c3599ccbf0a",
              "file_path": "manual_creation", "created_at": 1767225600}
SUBGRAPH = {
    "nodes": [
        {"id": name, "labels": [name],
         "properties": {"entity_id": name, "entity_type": kind, "description": description,
                        "source_id": CHUNK_ID, "file_path": "acme.txt",
                        "created_at": 1767225600}}
        for name, kind, description in (
            ("Acme Corp", "organization", "Acme Corp builds weather satellites."),
            ("Berlin", "location", "Berlin is where Acme Corp was founded."),
        )
    ],
    "edges": [
        {"id": "Acme Corp-Berlin", "type": "DIRECTED", "source": "Acme Corp", "target": "Berlin",
         "properties": {"weight": 1.0, "description": "Acme Corp was founded in Berlin.",
                        "keywords": "founding, location", "source_id": CHUNK_ID,
                        "file_path": "acme.txt", "created_at": 1767225600}},
    ],
    "is_truncated": False,
}
LIMIT_TOO_HIGH = validation_example(
    ["query", "limit"], "Input should be less than or equal to 100", "less_than_equal"
)
MISSING_NAME = validation_example(["body", "entity_name"], "Field required", "missing")
MISSING_SOURCE = validation_example(["body", "source_entity"], "Field required", "missing")


# ------------------------------------------------------------------------ reads


@router.get(
    "/graph/label/list", response_model=list[str], summary="All entity names",
    responses={200: example_response("Every entity name, sorted.", LABELS)},
)
async def label_list(ws: WorkspaceDep) -> list[str]:
    """Every node name of the workspace's knowledge graph, sorted."""
    return await ws.stores.graph.all_labels()


@router.get(
    "/graph/label/popular", response_model=list[str], summary="Entity names by degree",
    responses={200: example_response("The best-connected names first.", LABELS)},
    openapi_extra=validation_example(
        ["query", "limit"], "Input should be less than or equal to 1000", "less_than_equal"
    ),
)
async def label_popular(
    ws: WorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many names (1-1000).")] = 300,
) -> list[str]:
    """The ``limit`` names with the highest degree (ties by name). ``limit`` outside 1-1000
    is 422."""
    return await ws.stores.graph.popular_labels(limit)


@router.get(
    "/graph/label/search", response_model=list[str], summary="Search entity names",
    responses={200: example_response("Matching names, best match first.", ["Acme Corp"])},
    openapi_extra=LIMIT_TOO_HIGH,
)
async def label_search(
    ws: WorkspaceDep,
    q: Annotated[str, Query(description="Text to find in entity names (any case).")] = "",
    limit: Annotated[int, Query(ge=1, le=100, description="How many names (1-100).")] = 50,
) -> list[str]:
    """Case-insensitive substring search: an exact match first, then prefixes, then the
    rest (shorter names and word starts first, ties by name). An empty ``q`` finds nothing;
    ``limit`` outside 1-100 is 422."""
    if not q.strip():
        return []
    return await ws.stores.graph.search_labels(q.strip(), limit)


@router.get(
    "/graphs", summary="Subgraph around a label",
    responses={200: example_response(
        "Nodes and edges; is_truncated tells whether max_nodes cut the subgraph.", SUBGRAPH
    )},
    openapi_extra=validation_example(["query", "label"], "Field required", "missing"),
)
async def graphs(
    ws: WorkspaceDep,
    settings: SettingsDep,
    label: Annotated[str, Query(min_length=1, description="An entity name, or * for all.")],
    max_depth: Annotated[int, Query(ge=1, description="Hops from the label.")] = 3,
    max_nodes: Annotated[int, Query(ge=1, description="At most MAX_GRAPH_NODES.")] = 1000,
) -> dict[str, Any]:
    """Breadth-first from the node named ``label``, preferring high-degree nodes at each
    depth; ``*`` gives the whole graph by degree. An unknown label gives an empty graph.
    Edge ``type`` is always "DIRECTED" (the graph is undirected, as in LightRAG)."""
    graph = await ws.stores.graph.subgraph(
        label, max_depth, min(max_nodes, settings.max_graph_nodes)
    )
    return {"nodes": graph.nodes, "edges": graph.edges, "is_truncated": graph.is_truncated}


@router.get(
    "/graph/entity/exists", summary="Does an entity exist",
    responses={200: example_response("Whether the exact name is a node.", {"exists": True})},
    openapi_extra=validation_example(["query", "name"], "Field required", "missing"),
)
async def entity_exists(
    ws: WorkspaceDep,
    name: Annotated[str, Query(min_length=1, description="The exact entity name.")],
) -> dict[str, bool]:
    """``{"exists": bool}`` for the exact (case-sensitive) entity name."""
    return {"exists": await ws.stores.graph.has_node(name)}


# -------------------------------------------------------------------- mutations


@router.post(
    "/graph/entity/create", summary="Create an entity",
    responses={
        200: example_response("The new entity.", {
            "status": "success", "message": "Entity 'Tesla' created successfully", "data": TESLA}),
        400: error_response("The name is taken or empty.", "Entity 'Tesla' already exists"),
    },
    openapi_extra=MISSING_NAME,
)
async def create_entity(body: EntityCreateRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Create an entity with its description and type; it is embedded for retrieval at once.
    An existing name answers 400."""
    data = await graph_ops.create_entity(ws, body.entity_name, body.entity_data)
    return {"status": "success",
            "message": f"Entity '{data['entity_name']}' created successfully", "data": data}


@router.post(
    "/graph/relation/create", summary="Create a relation",
    responses={
        200: example_response("The new relation.", {
            "status": "success",
            "message": "Relation created successfully between 'Elon Musk' and 'Tesla'",
            "data": TESLA_EDGE}),
        400: error_response("An entity is missing, or the relation exists already.",
                            "Entity 'Tesla' does not exist"),
    },
    openapi_extra=MISSING_SOURCE,
)
async def create_relation(body: RelationCreateRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Create a relation between two existing entities (create them first if needed).
    A missing entity or an existing relation answers 400."""
    data = await graph_ops.create_relation(
        ws, body.source_entity, body.target_entity, body.relation_data
    )
    return {
        "status": "success",
        "message": f"Relation created successfully between '{body.source_entity}' and "
        f"'{body.target_entity}'",
        "data": data,
    }


@router.post(
    "/graph/entity/edit", summary="Update or rename an entity",
    responses={
        200: example_response("The entity after the edit, and what was done.", {
            "status": "success", "message": "Entity updated successfully", "data": TESLA,
            "operation_summary": {"merged": False, "merge_status": "not_attempted",
                                  "merge_error": None, "operation_status": "success",
                                  "target_entity": None, "final_entity": "Tesla",
                                  "renamed": False}}),
        400: error_response("Unknown entity, a field that cannot be edited, or a rename "
                            "that is not allowed.",
                            "Renaming is not allowed (set allow_rename to true)"),
    },
    openapi_extra=MISSING_NAME,
)
async def edit_entity(body: EntityUpdateRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Update an entity's ``entity_type``, ``description``, ``source_id`` or ``file_path``
    (strings). Renaming (``entity_name``) needs ``allow_rename``; renaming onto an existing
    name also needs ``allow_merge``. Anything else answers 400 with the reason."""
    result = await graph_ops.edit_entity(
        ws, body.entity_name, body.updated_data,
        allow_rename=body.allow_rename, allow_merge=body.allow_merge,
    )
    message = (f"Entity merged successfully into '{result.final_name}'" if result.merged
               else "Entity updated successfully")
    return {
        "status": "success",
        "message": message,
        "data": result.data,
        "operation_summary": {
            "merged": result.merged,
            "merge_status": "success" if result.merged else "not_attempted",
            "merge_error": None,
            "operation_status": "success",
            "target_entity": result.final_name if result.renamed else None,
            "final_entity": result.final_name,
            "renamed": result.renamed,
        },
    }


@router.post(
    "/graph/relation/edit", summary="Update a relation",
    responses={
        200: example_response("The relation after the edit.", {
            "status": "success", "message": "Relation updated successfully",
            "data": TESLA_EDGE}),
        400: error_response("Unknown relation, or a field that cannot be edited.",
                            "Relation from 'Elon Musk' to 'Tesla' does not exist"),
    },
    openapi_extra=validation_example(["body", "source_id"], "Field required", "missing"),
)
async def edit_relation(body: RelationUpdateRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Update a relation's ``description``, ``keywords``, ``source_id`` or ``file_path``
    (strings) or ``weight`` (a number). Anything else answers 400 with the reason."""
    data = await graph_ops.edit_relation(ws, body.source_id, body.target_id, body.updated_data)
    return {"status": "success", "message": "Relation updated successfully", "data": data}


@router.post(
    "/graph/entities/merge", summary="Merge entities",
    responses={
        200: example_response("The merged entity.", {
            "status": "success", "message": "Successfully merged 2 entities into 'Elon Musk'",
            "data": {**TESLA, "entity_name": "Elon Musk", "entity_id": "Elon Musk",
                     "entity_type": "PERSON", "description": "The CEO of Tesla."}}),
        400: error_response("A source entity does not exist.",
                            "Entity 'Elon Msk' does not exist"),
    },
    openapi_extra=validation_example(
        ["body", "entities_to_change"], "List should have at least 1 item after validation, "
        "not 0", "too_short"
    ),
)
async def merge_entities(body: EntityMergeRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Merge ``entities_to_change`` into ``entity_to_change_into``: their relations move to
    it and they are deleted. An unknown source entity answers 400."""
    data = await graph_ops.merge_entities_into(
        ws, body.entities_to_change, body.entity_to_change_into
    )
    count = len({n for n in body.entities_to_change if n != body.entity_to_change_into})
    return {
        "status": "success",
        "message": f"Successfully merged {count} entities into '{body.entity_to_change_into}'",
        "data": data,
    }


async def _delete_entity(body: DeleteEntityRequest, ws: WorkspaceDep) -> GraphDeleteResponse:
    """Delete an entity, its relations and what documents said about them, so a later
    rebuild does not bring them back. An unknown entity answers 404."""
    await graph_ops.delete_entity(ws, body.entity_name)
    return GraphDeleteResponse(
        message=f"Entity '{body.entity_name}' deleted successfully"
    )


async def _delete_relation(body: DeleteRelationRequest, ws: WorkspaceDep) -> GraphDeleteResponse:
    """Delete a relation (either direction) and what documents said about it, so a later
    rebuild does not bring it back. An unknown relation answers 404."""
    await graph_ops.delete_relation(ws, body.source_entity, body.target_entity)
    return GraphDeleteResponse(
        message=f"Relation from '{body.source_entity}' to '{body.target_entity}' "
        "deleted successfully"
    )


ENTITY_DELETED = {
    200: example_response("The entity is gone.", GraphDeleteResponse(
        message="Entity 'Tesla' deleted successfully").model_dump()),
    404: error_response("No such entity.", "Entity 'Tesla' not found"),
}
RELATION_DELETED = {
    200: example_response("The relation is gone.", GraphDeleteResponse(
        message="Relation from 'Elon Musk' to 'Tesla' deleted successfully").model_dump()),
    404: error_response("No such relation.", "Relation from 'Elon Musk' to 'Tesla' not found"),
}
# The /documents/delete_* paths are the LightRAG 1.4 names of the same routes.
for _path in ("/graph/entity/delete", "/documents/delete_entity"):
    router.add_api_route(
        _path, _delete_entity, methods=["DELETE"], response_model=GraphDeleteResponse,
        summary="Delete an entity", name=f"delete_entity{_path.replace('/', '_')}",
        responses=ENTITY_DELETED, openapi_extra=MISSING_NAME,
    )
for _path in ("/graph/relation/delete", "/documents/delete_relation"):
    router.add_api_route(
        _path, _delete_relation, methods=["DELETE"], response_model=GraphDeleteResponse,
        summary="Delete a relation", name=f"delete_relation{_path.replace('/', '_')}",
        responses=RELATION_DELETED, openapi_extra=MISSING_SOURCE,
    )
