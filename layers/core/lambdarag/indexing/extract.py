"""Entity/relation extraction of one chunk: prompt, cache, gleaning, parse, fragments."""

from __future__ import annotations

import json
from dataclasses import dataclass

from lambdarag.indexing.records import (
    ExtractionResult,
    merge_gleaning,
    neutralise_delimiters,
    parse_records,
)
from lambdarag.llm import prompts, tokenizer
from lambdarag.llm.base import ChatMessage
from lambdarag.llm.cache import CachedLLM
from lambdarag.llm.prompt_files import EntityTypeProfile
from lambdarag.storage.base import EntityFragment, RelationFragment, sorted_pair
from lambdarag.utils import now_unix


@dataclass(frozen=True)
class ExtractionOptions:
    language: str = "English"
    entity_types: tuple[str, ...] = prompts.DEFAULT_ENTITY_TYPES
    max_gleaning: int = 1
    max_records: int = 100
    max_entities: int = 40
    max_input_tokens: int = 20480
    use_cache: bool = True
    use_json: bool = False  # ENTITY_EXTRACTION_USE_JSON: ask for one JSON object instead
    type_profile: EntityTypeProfile | None = None  # ENTITY_TYPE_PROMPT_FILE


@dataclass
class ChunkExtraction:
    chunk_id: str
    entities: list[EntityFragment]
    relations: list[RelationFragment]
    cache_keys: list[str]


def _system_prompt(options: ExtractionOptions) -> str:
    template = (prompts.ENTITY_EXTRACTION_JSON_SYSTEM if options.use_json
                else prompts.ENTITY_EXTRACTION_SYSTEM)
    profile = options.type_profile
    types = (prompts.PROFILE_TYPE_RULE if profile else
             prompts.DEFAULT_TYPE_RULE.format(entity_types=", ".join(options.entity_types)))
    system = template.format(
        tuple_delimiter=prompts.TUPLE_DELIMITER,
        completion_delimiter=prompts.COMPLETION_DELIMITER,
        type_rule=types,
        language=options.language,
        max_records=options.max_records,
        max_entities=options.max_entities,
    )
    if profile is None:
        return system
    return system + prompts.PROFILE_SECTIONS.format(
        guidance=profile.guidance, examples="\n\n".join(profile.examples))


async def extract_chunk(
    chunk_id: str,
    content: str,
    file_path: str,
    *,
    llm: CachedLLM,
    options: ExtractionOptions,
) -> ChunkExtraction:
    """Run extraction (plus up to ``max_gleaning`` continue passes) on one chunk."""
    system = _system_prompt(options)
    user = prompts.ENTITY_EXTRACTION_USER.format(input_text=neutralise_delimiters(content))
    json_mode = options.use_json
    answer, key = await llm.complete(
        user, system_prompt=system, cache_type="extract", use_cache=options.use_cache,
        chunk_id=chunk_id, json_mode=json_mode,
    )
    result = merge_gleaning(parse_records(answer, json_mode=json_mode), ExtractionResult())
    keys = [key]
    history: list[ChatMessage] = [
        {"role": "user", "content": user},
        {"role": "assistant", "content": recap(result, json_mode=json_mode)},
    ]
    continue_prompt = (prompts.ENTITY_CONTINUE_EXTRACTION_JSON if json_mode else
                       prompts.ENTITY_CONTINUE_EXTRACTION.format(
                           completion_delimiter=prompts.COMPLETION_DELIMITER))
    for _ in range(options.max_gleaning):
        budget = sum(tokenizer.count_tokens(m["content"]) for m in history)
        budget += tokenizer.count_tokens(system) + tokenizer.count_tokens(continue_prompt)
        if budget > options.max_input_tokens:
            break
        gleaned, key = await llm.complete(
            continue_prompt, system_prompt=system, history=history, cache_type="extract",
            use_cache=options.use_cache, chunk_id=chunk_id, json_mode=json_mode,
        )
        keys.append(key)
        found = parse_records(gleaned, json_mode=json_mode)
        result = merge_gleaning(result, found)
        history += [{"role": "user", "content": continue_prompt},
                    {"role": "assistant", "content": recap(found, json_mode=json_mode)}]
    return _fragments(chunk_id, file_path, result, keys)


def recap(result: ExtractionResult, *, json_mode: bool = False) -> str:
    """What a pass found, as the next pass is shown it: names, types and pairs only.

    Gleaning needs to know which entities and relations are already there, not how they
    were described; the descriptions are most of an answer's length.
    """
    if json_mode:
        return json.dumps({
            "entities": [{"name": e.name, "type": e.type} for e in result.entities],
            "relationships": [{"source": r.source, "target": r.target}
                              for r in result.relations]}, ensure_ascii=False)
    d = prompts.TUPLE_DELIMITER
    lines = [f"entity{d}{e.name}{d}{e.type}" for e in result.entities]
    lines += [f"relation{d}{r.source}{d}{r.target}" for r in result.relations]
    return "\n".join([*lines, prompts.COMPLETION_DELIMITER])


def _fragments(
    chunk_id: str, file_path: str, result: ExtractionResult, keys: list[str]
) -> ChunkExtraction:
    stamp = now_unix()
    entities = [
        EntityFragment(entity_name=e.name, chunk_id=chunk_id, entity_type=e.type,
                       description=e.description, file_path=file_path, timestamp=stamp)
        for e in result.entities
    ]
    relations = []
    for r in result.relations:
        src, tgt = sorted_pair(r.source, r.target)
        relations.append(
            RelationFragment(src_id=src, tgt_id=tgt, chunk_id=chunk_id, keywords=r.keywords,
                             description=r.description, weight=r.weight, file_path=file_path,
                             timestamp=stamp)
        )
    return ChunkExtraction(chunk_id, entities, relations, keys)
