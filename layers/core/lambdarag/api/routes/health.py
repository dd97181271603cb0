"""``/health``: liveness plus the configuration a client or operator wants to see."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lambdarag import API_VERSION, __version__
from lambdarag.api.deps import EngineDep, PrincipalDep, SettingsDep, WorkspaceNameDep
from lambdarag.api.routes import webui
from lambdarag.api.schemas import example_response
from lambdarag.config import Settings
from lambdarag.runtime.engine import Engine
from lambdarag.workspace.workspace import Workspace

router = APIRouter(tags=["health"])

# LightRAG's "no reranker" values (RERANK_BINDING=null), for the example.
NO_RERANK = {"enable_rerank": False, "rerank_binding": "null", "rerank_model": None,
             "rerank_binding_host": None, "rerank_timeout": 30, "min_rerank_score": 0.0}
PROVIDER_EXAMPLE = {"binding": "openai", "host": "https://api.openai.com/v1",
                    "setting": "LLM_BINDING_HOST", "reachable": True,
                    "checked_at": 1767225600.0, "error": None}
STORAGE_KINDS = ("kv_storage", "doc_status_storage", "graph_storage", "vector_storage")

HEALTH_EXAMPLE = {
    "status": "healthy", "auth_mode": "disabled", "core_version": "0.1.0", "api_version": "0344",
    "webui_available": True, "workspace_available": False, "api_docs_available": True,
    "webui_title": None, "webui_description": None, "ai_content_notice_enabled": False,
    "pipeline_busy": False, "pipeline_active": False,
    "working_directory": "./rag_storage", "input_directory": "./inputs",
    "configuration": {
        "llm_binding": "openai", "llm_binding_host": "https://api.openai.com/v1",
        "llm_model": "gpt-4o-mini", "embedding_binding": "openai",
        "embedding_binding_host": "https://api.openai.com/v1",
        "embedding_model": "text-embedding-3-large", "summary_max_tokens": 1200,
        "summary_context_size": 12000, "kv_storage": "JsonKVStorage",
        "doc_status_storage": "JsonDocStatusStorage", "graph_storage": "NetworkXStorage",
        "vector_storage": "NanoVectorDBStorage", "enable_llm_cache_for_extract": True,
        "enable_llm_cache": True, "vlm_process_enable": False, "workspace": "",
        "storage_workspaces": dict.fromkeys(STORAGE_KINDS, ""), "max_graph_nodes": 1000,
        **NO_RERANK, "rerank_max_async": 4, "summary_language": "English",
        "force_llm_summary_on_merge": 8, "max_parallel_insert": 3, "cosine_threshold": 0.2,
        "related_chunk_number": 5, "max_async": 4, "llm_timeout": 240,
        "embedding_func_max_async": 8, "embedding_batch_num": 64, "embedding_timeout": 30,
    },
    "server_mode": "uvicorn", "workers": 1, "graph": {"nodes": 11, "edges": 11},
    "llm_usage": {"calls": 42, "cache_hits": 7, "prompt_tokens": 51234,
                  "completion_tokens": 8123},
    "providers": {
        "llm": PROVIDER_EXAMPLE,
        "embedding": {**PROVIDER_EXAMPLE, "setting": "EMBEDDING_BINDING_HOST"},
    },
}


def _rerank(settings: Settings) -> dict[str, Any]:
    config = settings.rerank_config()
    if config is None:
        return {**NO_RERANK, "rerank_timeout": settings.rerank_timeout,
                "min_rerank_score": settings.min_rerank_score}
    return {"enable_rerank": True, "rerank_binding": config.binding,
            "rerank_model": config.model, "rerank_binding_host": config.host,
            "rerank_timeout": config.timeout, "min_rerank_score": settings.min_rerank_score}


def _configuration(engine: Engine, settings: Settings, ws: Workspace) -> dict[str, Any]:
    llm, emb = engine.llm.config, engine.embedder.config
    return {
        "llm_binding": llm.binding,
        "llm_binding_host": llm.host,
        "llm_model": llm.model,
        "embedding_binding": emb.binding,
        "embedding_binding_host": emb.host,
        "embedding_model": emb.model,
        "summary_max_tokens": settings.summary_max_tokens,
        "summary_context_size": settings.summary_context_size,
        "kv_storage": settings.lightrag_kv_storage,
        "doc_status_storage": settings.lightrag_doc_status_storage,
        "graph_storage": settings.lightrag_graph_storage,
        "vector_storage": settings.lightrag_vector_storage,
        "enable_llm_cache_for_extract": settings.enable_llm_cache_for_extract,
        "enable_llm_cache": settings.enable_llm_cache,
        "vlm_process_enable": False,
        "workspace": ws.name,
        "storage_workspaces": dict.fromkeys(STORAGE_KINDS, ws.name),
        "max_graph_nodes": settings.max_graph_nodes,
        **_rerank(settings),
        "rerank_max_async": settings.max_async_rerank or settings.max_async,
        "summary_language": settings.summary_language,
        "force_llm_summary_on_merge": settings.force_llm_summary_on_merge,
        "max_parallel_insert": settings.max_parallel_insert,
        "cosine_threshold": settings.cosine_threshold,
        "related_chunk_number": settings.related_chunk_number,
        "max_async": settings.max_async,
        "llm_timeout": settings.llm_timeout,
        "embedding_func_max_async": settings.embedding_func_max_async,
        "embedding_batch_num": settings.embedding_batch_num,
        "embedding_timeout": settings.embedding_timeout,
    }


@router.get(
    "/health", summary="Liveness and configuration",
    responses={200: example_response("The server is up; its versions and configuration.",
                                     HEALTH_EXAMPLE)},
)
async def health(engine: EngineDep, settings: SettingsDep, name: WorkspaceNameDep,
                 caller: PrincipalDep) -> dict[str, Any]:
    """Always 200 while the server runs. ``pipeline_busy`` is true while documents of the
    request's workspace (header ``LIGHTRAG-WORKSPACE``) are being indexed; ``graph`` and
    ``llm_usage`` (LambdaRAG additions) count that workspace's nodes, edges and LLM tokens;
    ``providers`` (also an addition) says whether the LLM, embedding and rerank hosts
    answer (probed at most every 15 s, 2 s at most each) and, when not, why.
    With authentication on, callers without valid credentials get the liveness fields only
    (and open no workspace).
    """
    # With shared state the record is in the store: read it for callers allowed to open
    # the workspace only (anonymous liveness checks stay storage-free).
    if caller.authenticated:
        busy = await engine.pipeline_busy(name)
    else:
        busy = engine.runner.is_busy(name)
    liveness = {
        "status": "healthy",
        "auth_mode": "enabled" if settings.accounts else "disabled",
        "core_version": __version__,
        "api_version": API_VERSION,
        "webui_available": webui.available(),
        "workspace_available": False,
        "api_docs_available": True,
        "webui_title": settings.webui_title,
        "webui_description": settings.webui_description,
        "ai_content_notice_enabled": False,
        "pipeline_busy": busy,
        "pipeline_active": busy,
    }
    if not caller.authenticated:
        return liveness
    ws = await engine.workspace(name)
    nodes, edges = await ws.stores.graph.counts()
    return {
        **liveness,
        "working_directory": str(settings.working_dir),
        "input_directory": str(settings.input_dir),
        "configuration": _configuration(engine, settings, ws),
        "server_mode": "uvicorn",
        "workers": 1,
        "graph": {"nodes": nodes, "edges": edges},
        "llm_usage": ws.llm.usage.as_dict(),
        "providers": await engine.providers(),
    }
