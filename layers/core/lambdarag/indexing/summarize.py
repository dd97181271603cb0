"""Description summarisation with LightRAG's thresholds.

LightRAG asks the LLM once per entity or relation that needs a summary. A merge round here
asks once per *group* of keys (:func:`summarize_many`): up to ``summary_batch_size`` keys of
one kind whose descriptions fit ``summary_context_size`` tokens together, answered as one
JSON object. A key the answer lacks is summarised alone, so nothing is lost to a short
answer; a key too large for a shared prompt takes the single-key path (with its map-reduce).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from functools import cached_property

from lambdarag.llm import prompts, tokenizer
from lambdarag.llm.answers import json_object
from lambdarag.llm.cache import CachedLLM
from lambdarag.utils import pack

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SummaryOptions:
    language: str = "English"
    force_llm_summary_on_merge: int = 8
    summary_max_tokens: int = 1200
    summary_length_recommended: int = 600
    summary_context_size: int = 12000
    summary_batch_size: int = 8  # keys per LLM call in a merge round; 1 = LightRAG's one each
    use_cache: bool = True


@dataclass(frozen=True)
class SummaryRequest:
    kind: str  # "entity" or "relation"
    name: str
    descriptions: list[str]

    @cached_property
    def tokens(self) -> int:
        return sum(tokenizer.count_tokens(d) for d in self.descriptions)


def needs_llm(request: SummaryRequest, options: SummaryOptions) -> bool:
    """Whether merging the request's descriptions takes an LLM summary (LightRAG's thresholds)."""
    if len(request.descriptions) < 2:
        return False
    return len(request.descriptions) >= options.force_llm_summary_on_merge or (
        request.tokens >= options.summary_max_tokens)


async def summarize_many(
    requests: list[SummaryRequest], *, llm: CachedLLM, options: SummaryOptions
) -> list[tuple[str, bool]]:
    """:func:`summarize_descriptions` for several keys; those needing the LLM share calls.

    Returns (text, whether an LLM was called) per request, in order.
    """
    results: list[tuple[str, bool] | None] = [None] * len(requests)
    shared: dict[str, list[int]] = {}
    alone: list[int] = []
    for i, request in enumerate(requests):
        if not needs_llm(request, options):
            results[i] = (prompts.GRAPH_FIELD_SEP.join(request.descriptions), False)
        elif options.summary_batch_size > 1 and request.tokens <= options.summary_context_size // 2:
            shared.setdefault(request.kind, []).append(i)
        else:
            alone.append(i)
    groups = [group for indexes in shared.values()
              for group in _groups([requests[i] for i in indexes], indexes, options)]
    answers = await asyncio.gather(*(_summarize_group(group, requests, llm, options)
                                     for group in groups))
    for found in answers:
        for i, text in found.items():
            results[i] = (text, True)
    alone += [i for indexes in shared.values() for i in indexes if results[i] is None]
    singles = await asyncio.gather(*(
        summarize_descriptions(requests[i].kind, requests[i].name, requests[i].descriptions,
                               llm=llm, options=options) for i in alone))
    for i, single in zip(alone, singles, strict=True):
        results[i] = single
    return [r if r is not None else ("", False) for r in results]


def _groups(
    batch: list[SummaryRequest], indexes: list[int], options: SummaryOptions
) -> list[list[int]]:
    """Consecutive groups of at most ``summary_batch_size`` keys within the context size."""
    groups = pack(zip(batch, indexes, strict=True), lambda pair: pair[0].tokens,
                  max_count=options.summary_batch_size, max_size=options.summary_context_size)
    return [[i for _, i in group] for group in groups]


async def _summarize_group(
    group: list[int], requests: list[SummaryRequest], llm: CachedLLM, options: SummaryOptions
) -> dict[int, str]:
    """One call for the keys of ``group``; the summaries it gave, by request index."""
    if len(group) == 1:
        request = requests[group[0]]
        return {group[0]: await _summarize_once(request.kind, request.name,
                                                request.descriptions, llm, options)}
    lines = [json.dumps({"name": requests[i].name, "descriptions": requests[i].descriptions},
                        ensure_ascii=False) for i in group]
    prompt = prompts.SUMMARIZE_MANY.format(
        description_type=requests[group[0]].kind, language=options.language,
        summary_length=options.summary_length_recommended, description_list="\n".join(lines))
    text, _ = await llm.complete(prompt, cache_type="summary", use_cache=options.use_cache)
    answer = json_object(text) or {}
    found = {}
    for i in group:
        summary = answer.get(requests[i].name)
        if isinstance(summary, str) and summary.strip():
            found[i] = summary.strip()
    if len(found) < len(group):
        logger.info("a shared summary answered %d of %d keys; the rest go alone",
                    len(found), len(group))
    return found


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
        # The groups of one level are independent: summarise them at once (MAX_ASYNC
        # still bounds the calls), so a large key costs one call's latency per level.
        groups = _token_bounded_groups(current, options.summary_context_size)
        current = list(await asyncio.gather(*(_one_or_summary(kind, name, group, llm, options)
                                             for group in groups)))
        used_llm = True


async def _one_or_summary(
    kind: str, name: str, group: list[str], llm: CachedLLM, options: SummaryOptions
) -> str:
    return await _summarize_once(kind, name, group, llm, options) if len(group) > 1 else group[0]


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
