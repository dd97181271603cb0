"""Graph routes: labels, subgraphs and entity/relation editing (contract §3, §13).

Thin: validation and wire shapes here, the work in ``lambdarag.graph_ops``. Mutations
are allowed while indexing runs (they are fragment writes plus per-key merges).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from lambdarag import graph_ops
from lambdarag.api.deps import SettingsDep, WorkspaceDep

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


# ------------------------------------------------------------------------ reads


@router.get("/graph/label/list", response_model=list[str], summary="All entity names")
async def label_list(ws: WorkspaceDep) -> list[str]:
    """Every node name, sorted."""
    return await ws.stores.graph.all_labels()


@router.get("/graph/label/popular", response_model=list[str], summary="Entity names by degree")
async def label_popular(
    ws: WorkspaceDep, limit: Annotated[int, Query(ge=1, le=1000)] = 300
) -> list[str]:
    """The ``limit`` names with the highest degree (ties by name)."""
    return await ws.stores.graph.popular_labels(limit)


@router.get("/graph/label/search", response_model=list[str], summary="Search entity names")
async def label_search(
    ws: WorkspaceDep, q: str = "", limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[str]:
    """Case-insensitive substring search, best match first; an empty ``q`` finds nothing."""
    if not q.strip():
        return []
    return await ws.stores.graph.search_labels(q.strip(), limit)


@router.get("/graphs", summary="Subgraph around a label")
async def graphs(
    ws: WorkspaceDep,
    settings: SettingsDep,
    label: Annotated[str, Query(min_length=1)],
    max_depth: Annotated[int, Query(ge=1)] = 3,
    max_nodes: Annotated[int, Query(ge=1)] = 1000,
) -> dict[str, Any]:
    """BFS from ``label`` (``*`` = the whole graph by degree), at most MAX_GRAPH_NODES nodes."""
    graph = await ws.stores.graph.subgraph(
        label, max_depth, min(max_nodes, settings.max_graph_nodes)
    )
    return {"nodes": graph.nodes, "edges": graph.edges, "is_truncated": graph.is_truncated}


@router.get("/graph/entity/exists", summary="Does an entity exist")
async def entity_exists(
    ws: WorkspaceDep, name: Annotated[str, Query(min_length=1)]
) -> dict[str, bool]:
    """``{"exists": bool}``."""
    return {"exists": await ws.stores.graph.has_node(name)}


# -------------------------------------------------------------------- mutations


def _bad_request(exc: graph_ops.GraphOpError) -> HTTPException:
    return HTTPException(400, str(exc))


@router.post("/graph/entity/create", summary="Create an entity")
async def create_entity(body: EntityCreateRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Create an entity; an existing name answers 400."""
    try:
        data = await graph_ops.create_entity(ws, body.entity_name, body.entity_data)
    except graph_ops.GraphOpError as exc:
        raise _bad_request(exc) from exc
    return {"status": "success",
            "message": f"Entity '{data['entity_name']}' created successfully", "data": data}


@router.post("/graph/relation/create", summary="Create a relation")
async def create_relation(body: RelationCreateRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Create a relation between two existing entities."""
    try:
        data = await graph_ops.create_relation(
            ws, body.source_entity, body.target_entity, body.relation_data
        )
    except graph_ops.GraphOpError as exc:
        raise _bad_request(exc) from exc
    return {
        "status": "success",
        "message": f"Relation created successfully between '{body.source_entity}' and "
        f"'{body.target_entity}'",
        "data": data,
    }


@router.post("/graph/entity/edit", summary="Update or rename an entity")
async def edit_entity(body: EntityUpdateRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Update an entity; renaming needs ``allow_rename``, onto an existing name ``allow_merge``."""
    try:
        result = await graph_ops.edit_entity(
            ws, body.entity_name, body.updated_data,
            allow_rename=body.allow_rename, allow_merge=body.allow_merge,
        )
    except graph_ops.GraphOpError as exc:
        raise _bad_request(exc) from exc
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


@router.post("/graph/relation/edit", summary="Update a relation")
async def edit_relation(body: RelationUpdateRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Update a relation's description, keywords, source_id, file_path or weight."""
    try:
        data = await graph_ops.edit_relation(ws, body.source_id, body.target_id, body.updated_data)
    except graph_ops.GraphOpError as exc:
        raise _bad_request(exc) from exc
    return {"status": "success", "message": "Relation updated successfully", "data": data}


@router.post("/graph/entities/merge", summary="Merge entities")
async def merge_entities(body: EntityMergeRequest, ws: WorkspaceDep) -> dict[str, Any]:
    """Merge ``entities_to_change`` into ``entity_to_change_into``."""
    try:
        data = await graph_ops.merge_entities_into(
            ws, body.entities_to_change, body.entity_to_change_into
        )
    except graph_ops.GraphOpError as exc:
        raise _bad_request(exc) from exc
    count = len({n for n in body.entities_to_change if n != body.entity_to_change_into})
    return {
        "status": "success",
        "message": f"Successfully merged {count} entities into '{body.entity_to_change_into}'",
        "data": data,
    }


async def _delete_entity(body: DeleteEntityRequest, ws: WorkspaceDep) -> GraphDeleteResponse:
    """Delete an entity, its relations and their fragments; 404 when absent."""
    try:
        await graph_ops.delete_entity(ws, body.entity_name)
    except graph_ops.GraphNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return GraphDeleteResponse(
        message=f"Entity '{body.entity_name}' deleted successfully"
    )


async def _delete_relation(body: DeleteRelationRequest, ws: WorkspaceDep) -> GraphDeleteResponse:
    """Delete a relation and its fragments; 404 when absent."""
    try:
        await graph_ops.delete_relation(ws, body.source_entity, body.target_entity)
    except graph_ops.GraphNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return GraphDeleteResponse(
        message=f"Relation from '{body.source_entity}' to '{body.target_entity}' "
        "deleted successfully"
    )


for _path in ("/graph/entity/delete", "/documents/delete_entity"):
    router.add_api_route(
        _path, _delete_entity, methods=["DELETE"], response_model=GraphDeleteResponse,
        summary="Delete an entity", name=f"delete_entity{_path.replace('/', '_')}",
    )
for _path in ("/graph/relation/delete", "/documents/delete_relation"):
    router.add_api_route(
        _path, _delete_relation, methods=["DELETE"], response_model=GraphDeleteResponse,
        summary="Delete a relation", name=f"delete_relation{_path.replace('/', '_')}",
    )
