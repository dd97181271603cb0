"""Tolerant parsing of the LLM's extraction records.

LLMs bend the format: glued records, mangled delimiters, bullets, code fences,
quotes around names, ``relationship`` instead of ``relation``. Everything that can be
read unambiguously is kept; the rest is dropped and counted, never raised.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from lambdarag.llm.answers import json_object
from lambdarag.llm.prompts import COMPLETION_DELIMITER, TUPLE_DELIMITER

MAX_NAME_LENGTH = 256
_BAD_TYPE_CHARS = set("'()<>|/\\")
_DELIMITER_VARIANTS = re.compile(r"<\s*\|?\s*#+\s*\|?\s*>|<\|#\|(?!>)|(?<!<)\|#\|>")
_GLUED = re.compile(rf"{re.escape(TUPLE_DELIMITER)}\s*(?=(?:entity|relation|relationship){re.escape(TUPLE_DELIMITER)})", re.I)
_COMPLETE_VARIANTS = re.compile(r"<\s*\|?\s*COMPLETE\s*\|?\s*>", re.I)
_LINE_NOISE = re.compile(r"^\s*(?:[-*•]\s+|\d+[.)]\s+|```\w*\s*$)")
_HTML_TAG = re.compile(r"<[^>|#]{1,40}>")
_CJK = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
_CJK_GAP = re.compile(rf"(?<={_CJK})\s+(?={_CJK})")


@dataclass
class ExtractedEntity:
    name: str
    type: str
    description: str


@dataclass
class ExtractedRelation:
    source: str
    target: str
    keywords: str
    description: str
    weight: float = 1.0


@dataclass
class ExtractionResult:
    entities: list[ExtractedEntity] = field(default_factory=list)
    relations: list[ExtractedRelation] = field(default_factory=list)
    dropped: int = 0


def neutralise_delimiters(text: str) -> str:
    """``text`` with every form of the record delimiters the parser accepts defused.

    Extraction input is data. An LLM often echoes it into descriptions, and the parser
    splits records at completion markers and at delimiters followed by ``entity``/``relation``,
    so a document holding ``<|COMPLETE|>entity<|#|>X<|#|>...`` would plant entity X. The
    brackets of each delimiter form become ``‹ ›``, which the parser ignores, so only what
    the LLM writes itself can be a record.
    """
    def defuse(match: re.Match[str]) -> str:
        return match.group(0).replace("<", "\u2039").replace(">", "\u203a")

    text = _COMPLETE_VARIANTS.sub(defuse, text)
    return _DELIMITER_VARIANTS.sub(defuse, text)


def normalise_name(raw: str) -> str:
    """Strip quotes, markup, odd spacing and control characters; fold full-width forms;
    cap the length."""
    name = unicodedata.normalize("NFKC", html.unescape(raw))
    name = _HTML_TAG.sub("", name).strip().strip("\"'`“”‘’*_ ").strip()
    name = _CJK_GAP.sub("", " ".join(name.split()))
    name = "".join(c for c in name if unicodedata.category(c) != "Cc")
    return name[:MAX_NAME_LENGTH]


def normalise_type(raw: str) -> str | None:
    entity_type = normalise_name(raw).lower().replace(" ", "")
    if not entity_type or _BAD_TYPE_CHARS & set(entity_type):
        return None
    return entity_type


def parse_records(text: str, *, json_mode: bool = False) -> ExtractionResult:
    """Parse text-mode extraction output (or the JSON mode's object) into records.

    With ``json_mode`` (ENTITY_EXTRACTION_USE_JSON) the answer is read leniently (fences,
    think tags, small repairs); an answer in the text format is still understood.
    """
    stripped = text.strip()
    if json_mode or stripped.startswith("{"):
        data = json_object(stripped) if json_mode else _strict_json(stripped)
        if data is not None:
            return _from_json(data)
    result = ExtractionResult()
    for line in _record_lines(text):
        _parse_line(line, result)
    return result


def _record_lines(text: str) -> list[str]:
    text = _COMPLETE_VARIANTS.sub("\n", text.replace(COMPLETION_DELIMITER, "\n"))
    text = _DELIMITER_VARIANTS.sub(TUPLE_DELIMITER, text)
    text = _GLUED.sub("\n", text)
    lines = []
    for raw in text.splitlines():
        line = _LINE_NOISE.sub("", raw).strip()
        if line.startswith("(") and line.endswith(")"):
            line = line[1:-1].strip()
        if TUPLE_DELIMITER in line:
            lines.append(line)
    return lines


def _parse_line(line: str, result: ExtractionResult) -> None:
    fields = [part.strip() for part in line.split(TUPLE_DELIMITER)]
    kind = normalise_name(fields[0]).lower()
    if kind == "entity" and len(fields) == 5:
        kind = "relation"  # a relation written with the entity prefix
    if kind == "entity" and len(fields) == 4:
        _add_entity(fields[1:], result)
    elif kind in {"relation", "relationship"} and len(fields) == 5:
        _add_relation(fields[1:], result)
    else:
        result.dropped += 1


def _add_entity(fields: list[str], result: ExtractionResult) -> None:
    name, entity_type, description = normalise_name(fields[0]), normalise_type(fields[1]), fields[2]
    if not name or entity_type is None or not description:
        result.dropped += 1
        return
    result.entities.append(ExtractedEntity(name, entity_type, description))


def _add_relation(fields: list[str], result: ExtractionResult) -> None:
    source, target = normalise_name(fields[0]), normalise_name(fields[1])
    keywords = ",".join(k.strip() for k in fields[2].replace("，", ",").split(",") if k.strip())
    description = fields[3]
    if not source or not target or source == target or not description:
        result.dropped += 1
        return
    result.relations.append(ExtractedRelation(source, target, keywords, description))


def _strict_json(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _from_json(data: dict[str, Any]) -> ExtractionResult:
    result = ExtractionResult()
    for item in data.get("entities") or []:
        if isinstance(item, dict):
            fields = [_text(item.get(k)) for k in ("name", "type", "description")]
            _add_entity(fields, result)
    for item in data.get("relationships") or data.get("relations") or []:
        if isinstance(item, dict):
            fields = [_text(item.get(k)) for k in ("source", "target", "keywords", "description")]
            _add_relation(fields, result)
    return result


def _text(value: Any) -> str:
    """A JSON field as text; a list (keywords given as an array) joined with commas."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value if v)
    return str(value or "")


def merge_gleaning(first: ExtractionResult, gleaned: ExtractionResult) -> ExtractionResult:
    """Union of two passes; for the same entity or pair the longer description wins."""
    entities: dict[str, ExtractedEntity] = {}
    for entity in [*first.entities, *gleaned.entities]:
        kept = entities.get(entity.name)
        if kept is None or len(entity.description) > len(kept.description):
            entities[entity.name] = entity
    relations: dict[tuple[str, str], ExtractedRelation] = {}
    for relation in [*first.relations, *gleaned.relations]:
        key = tuple(sorted((relation.source, relation.target)))
        kept_rel = relations.get(key)  # type: ignore[arg-type]
        if kept_rel is None or len(relation.description) > len(kept_rel.description):
            relations[key] = relation  # type: ignore[index]
    return ExtractionResult(
        list(entities.values()), list(relations.values()), first.dropped + gleaned.dropped
    )
