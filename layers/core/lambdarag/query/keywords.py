"""Query keyword extraction."""

from __future__ import annotations

import json

from lambdarag.llm import prompts
from lambdarag.llm.answers import json_object
from lambdarag.query.param import QueryParam
from lambdarag.utils import mdhash
from lambdarag.workspace.workspace import Workspace


def parse_keywords(text: str) -> tuple[list[str], list[str]]:
    """Read ``{"high_level_keywords": [...], "low_level_keywords": [...]}`` leniently."""
    data = json_object(text)
    if data is None:
        return [], []
    return _strings(data.get("high_level_keywords")), _strings(data.get("low_level_keywords"))


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))


async def extract_keywords(ws: Workspace, query: str, param: QueryParam) -> tuple[list[str], list[str]]:
    """(high-level, low-level) keywords: the caller's if given, else the LLM's (cached)."""
    if param.hl_keywords or param.ll_keywords:
        return list(param.hl_keywords), list(param.ll_keywords)
    language = ws.query.language
    prompt = prompts.KEYWORDS_EXTRACTION.format(query=query, language=language)
    key = f"{param.mode}:keywords:{mdhash(json.dumps([param.mode, query, language, ws.llm.llm.identity]))}"
    text, _ = await ws.llm.complete(
        prompt, cache_type="keywords", use_cache=ws.query.enable_llm_cache, mode=param.mode,
        json_mode=True, key=key,
    )
    return parse_keywords(text)
