"""``/health``: liveness plus the configuration a client or operator wants to see."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lambdarag import API_VERSION, __version__
from lambdarag.api.deps import EngineDep, SettingsDep, WorkspaceDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness and configuration")
async def health(engine: EngineDep, settings: SettingsDep, ws: WorkspaceDep) -> dict[str, Any]:
    llm, emb = engine.llm.config, engine.embedder.config
    nodes, edges = await ws.stores.graph.counts()
    return {
        "status": "healthy",
        "auth_mode": "disabled",
        "core_version": __version__,
        "api_version": API_VERSION,
        "webui_available": False,
        "workspace_available": False,
        "api_docs_available": True,
        "webui_title": settings.webui_title,
        "webui_description": settings.webui_description,
        "ai_content_notice_enabled": False,
        "pipeline_busy": engine.runner.is_busy(ws.name),
        "pipeline_active": engine.runner.is_busy(ws.name),
        "working_directory": str(settings.working_dir),
        "input_directory": str(settings.input_dir),
        "configuration": {
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
            "workspace": ws.name,
            "max_graph_nodes": settings.max_graph_nodes,
            "enable_rerank": False,
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
        },
        "server_mode": "uvicorn",
        "workers": 1,
        "graph": {"nodes": nodes, "edges": edges},
        "llm_usage": ws.llm.usage.as_dict(),
    }
