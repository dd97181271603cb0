"""Description summarisation with LightRAG's thresholds (contract §9.2, step 5)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from lambdarag import prompts, tokenizer
from lambdarag.llm_cache import CachedLLM


@dataclass(frozen=True)
class SummaryOptions:
    language: str = "English"
    force_llm_summary_on_merge: int = 8
    summary_max_tokens: int = 1200
    summary_length_recommended: int = 600
    summary_context_size: int = 12000
    use_cache: bool = True


async def summarize_descriptions(
    kind: str,
    name: str,
    descriptions: list[str],
    *,
    llm: CachedLLM,
    options: SummaryOptions,
) -> tuple[str, bool]:
    """Merge ``descriptions`` into one text; returns (text, whether an LLM was called).

    Few short fragments are joined with ``<SEP>``; more (or longer) ones get one LLM
    summary; a set too large for one prompt is summarised in groups, repeatedly.
    """
    if not descriptions:
        return "", False
    if len(descriptions) == 1:
        return descriptions[0], False
    used_llm = False
    current = list(descriptions)
    while True:
        total = sum(tokenizer.count_tokens(d) for d in current)
        if total <= options.summary_context_size or len(current) <= 2:
            if (
                len(current) < options.force_llm_summary_on_merge
                and total < options.summary_max_tokens
            ):
                return prompts.GRAPH_FIELD_SEP.join(current), used_llm
            return await _summarize_once(kind, name, current, llm, options), True
        groups = _token_bounded_groups(current, options.summary_context_size)
        current = [
            await _summarize_once(kind, name, group, llm, options) if len(group) > 1 else group[0]
            for group in groups
        ]
        used_llm = True


def _token_bounded_groups(descriptions: list[str], limit: int) -> list[list[str]]:
    """Consecutive groups of at least two descriptions, each within ``limit`` tokens if possible."""
    groups: list[list[str]] = []
    current: list[str] = []
    tokens = 0
    for text in descriptions:
        size = tokenizer.count_tokens(text)
        if current and tokens + size > limit and len(current) >= 2:
            groups.append(current)
            current, tokens = [], 0
        current.append(text)
        tokens += size
    if current:
        if len(current) == 1 and groups:
            groups[-1].append(current[0])
        else:
            groups.append(current)
    return groups


async def _summarize_once(
    kind: str, name: str, descriptions: list[str], llm: CachedLLM, options: SummaryOptions
) -> str:
    prompt = prompts.SUMMARIZE_DESCRIPTIONS.format(
        description_type=kind,
        description_name=name,
        language=options.language,
        summary_length=options.summary_length_recommended,
        description_list="\n".join(
            json.dumps({"Description": d}, ensure_ascii=False) for d in descriptions
        ),
    )
    text, _ = await llm.complete(prompt, cache_type="summary", use_cache=options.use_cache)
    return text.strip() or prompts.GRAPH_FIELD_SEP.join(descriptions)
