"""Deterministic answers of the fake LLM server, chosen from the prompt the engine sent.

Pure functions only: the server turns a request into ``(system, messages)`` and calls
:func:`respond` or :func:`embed`. Which answer comes back depends on the section headings
of ``lambdarag.llm.prompts`` (``---Input Text---``, ``---Descriptions---``, ...), so a test
that indexes a small text gets a small, predictable graph.

The same brain answers LightRAG 1.5.x (for the side-by-side benchmark in ``bench/``): its
extraction uses the same record format and delimiters and an ``---Input Text---`` fence;
its gleaning is a follow-up turn after the extraction, its summaries carry a
``<Type> Name: <name>`` line and a ``Description List:`` fence of JSON lines, and its
keyword prompt ends with a ``User Query:`` line. Only these short markers are matched.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from lambdarag.llm.prompts import COMPLETION_DELIMITER, TUPLE_DELIMITER

STOPWORDS = frozenset(
    "The A An In On At It He She They This That These Those When While After Before And But "
    "Of For With By From To As Its Their His Her We Our I You If Then There Here Both Each "
    "Also".split()
)
ORGANIZATION_SUFFIXES = (
    "Corp",
    "Inc",
    "Ltd",
    "Labs",
    "University",
    "Institute",
    "Company",
    "Agency",
)
LOCATION_SUFFIXES = ("City", "River", "Valley", "Island", "Mountains")
GREETINGS = frozenset({"hi", "hello", "hey", "there", "thanks"})
QUESTION_WORDS = frozenset(
    "How What Who Whom Whose Where Why Which Does Do Is Are Can Tell".split()
)

_CAPITALISED_RUN = re.compile(r"[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*")
_MARKED = re.compile(r"\[\[(.+?)\]\]")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_ACRONYM = re.compile(r"\b[A-Z]{2,6}\b")
_HEADING = re.compile(r"^---.*---$", re.MULTILINE)
_FENCED = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_SUMMARY_NAME = re.compile(r'descriptions of the [^"]*"(.+?)"(?=[,.\s])', re.DOTALL)
_REFERENCE_LINE = re.compile(r"^\[\d+\]")
_CHAT_HISTORY = re.compile(r"<chat_history>\s*(.*?)\s*</chat_history>", re.DOTALL)
_SUMMARY_LIMIT = 800
_INPUT_HEADING = re.compile(r"^---Input Text---[ \t]*$", re.MULTILINE)
_DESCRIPTION_LIST = "Description List:"
_SUMMARY_MARKERS = ("---Descriptions by name---", "---Descriptions---", _DESCRIPTION_LIST)
_NAME_LINE = re.compile(r"^\s*\w+ Name: (.+?)\s*$", re.MULTILINE)
_USER_QUERY = re.compile(r"^User Query:(.*?)(?=^---|\Z)", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Mention:
    """One entity occurrence in a sentence, with its character span."""

    name: str
    type: str
    start: int
    end: int


@dataclass
class Entity:
    name: str
    type: str
    sentences: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Relation:
    source: str
    target: str
    keywords: str
    description: str


# --- dispatch -----------------------------------------------------------------------


KINDS = ("extraction", "gleaning", "summary", "keywords", "answer", "task", "echo")


def classify(system: str | None, messages: Sequence[dict[str, str]]) -> str:
    """What a chat request asks for: one of :data:`KINDS`."""
    last_user = _last_user(messages)
    everything = "\n".join([system or "", *(m["content"] for m in messages)])
    if "---Task: continue extraction---" in last_user or _is_follow_up_extraction(messages):
        return "gleaning"
    if _INPUT_HEADING.search(last_user):
        return "extraction"
    if system and "---Context---" in system:
        return "answer"
    if any(marker in everything for marker in _SUMMARY_MARKERS):
        return "summary"
    if "high_level_keywords" in everything:
        return "keywords"
    return "task" if chat_task(last_user) is not None else "echo"


def respond(system: str | None, messages: Sequence[dict[str, str]]) -> str:
    """The answer to a chat request: extraction, gleaning, summary, keywords, RAG answer,
    a chat-client task (title, tags, follow-ups) or echo."""
    kind = classify(system, messages)
    last_user = _last_user(messages)
    everything = "\n".join([system or "", *(m["content"] for m in messages)])
    as_json = '"relationships"' in (system or "")  # the JSON-mode extraction prompt
    if kind == "gleaning":
        extraction_turn = next(
            (m["content"] for m in messages
             if m["role"] == "user" and _INPUT_HEADING.search(m["content"])),
            everything,
        )
        return glean(_input_text(extraction_turn), as_json=as_json)
    if kind == "extraction":
        return extract(_input_text(last_user), as_json=as_json)
    if kind == "answer":
        return answer(system or "")
    if kind == "summary" and "---Descriptions by name---" in everything:
        return summarize_many(everything)
    if kind == "summary":
        return summarize(everything)
    if kind == "keywords":
        return keywords(section(everything, "---Query---") or _user_query(everything))
    if kind == "task":
        return chat_task(last_user) or ""
    return ("[system] " if system else "") + "Echo: " + last_user


def _last_user(messages: Sequence[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def _is_follow_up_extraction(messages: Sequence[dict[str, str]]) -> bool:
    """A later user turn about extraction after an answered extraction turn (LightRAG's gleaning)."""
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if len(users) < 2 or _INPUT_HEADING.search(messages[users[-1]]["content"]):
        return False
    answered = any(m["role"] == "assistant" for m in messages[users[0] : users[-1]])
    first = messages[users[0]]["content"]
    return answered and bool(_INPUT_HEADING.search(first)) and (
        "extract" in messages[users[-1]]["content"].lower()
    )


def _user_query(prompt: str) -> str:
    """The query of a prompt that ends ``User Query: <query>`` (before ``---Output---``)."""
    match = _USER_QUERY.search(prompt)
    return match.group(1).strip() if match else ""


def split_deltas(text: str, words_per_delta: int = 5) -> list[str]:
    """Cut ``text`` into stream deltas of a few words each; ``"".join`` gives ``text`` back."""
    words = re.split(r"(?<=\s)(?=\S)", text)
    return [
        "".join(words[i : i + words_per_delta]) for i in range(0, len(words), words_per_delta)
    ] or [text]


def section(prompt: str, heading: str) -> str:
    """The text between ``heading`` and the next ``---...---`` heading (or the end)."""
    start = prompt.find(heading)
    if start < 0:
        return ""
    body = prompt[start + len(heading) :]
    following = _HEADING.search(body)
    return (body[: following.start()] if following else body).strip()


def _input_text(prompt: str) -> str:
    """The fenced text after the ``---Input Text---`` heading line."""
    heading = _INPUT_HEADING.search(prompt)
    fenced = _FENCED.search(prompt, heading.end()) if heading else None
    return fenced.group(1).strip() if fenced else ""


# --- extraction and gleaning --------------------------------------------------------


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split(text) if s.strip()]


def mentions(sentence: str) -> list[Mention]:
    """Capitalised runs of ``sentence`` minus leading stopwords; lone acronyms are left to gleaning.

    ``[[any name]]`` marks a name verbatim (quotes, symbols, any script), so tests can make
    the fake LLM return names no capitalised run would give; the marked text is not searched
    for capitalised runs.
    """
    found = [
        Mention(m.group(1), _entity_type(m.group(1), False), m.start(), m.end())
        for m in _MARKED.finditer(sentence)
    ]
    sentence = _unmarked(sentence)
    for match in _CAPITALISED_RUN.finditer(sentence):
        words = match.group(0).split()
        dropped = []
        while words and words[0] in STOPWORDS:
            dropped.append(words.pop(0))
        name = " ".join(words)
        if len(name) < 2 or (len(words) == 1 and _ACRONYM.fullmatch(name)):
            continue
        start = match.start() + match.group(0).index(words[0])
        after_place_word = bool(dropped) and dropped[-1] in ("In", "At")
        after_place_word = after_place_word or sentence[:start].lower().endswith(("in ", "at "))
        kind = _entity_type(name, after_place_word)
        found.append(Mention(name, kind, start, match.end()))
    return sorted(found, key=lambda mention: mention.start)


def _unmarked(sentence: str) -> str:
    """``sentence`` with each ``[[...]]`` blanked out (same length, so spans still match)."""
    return _MARKED.sub(lambda m: " " * len(m.group(0)), sentence)


def _entity_type(name: str, preceded_by_place_word: bool) -> str:
    if name.endswith(ORGANIZATION_SUFFIXES):
        return "organization"
    if name.endswith(LOCATION_SUFFIXES) or preceded_by_place_word:
        return "location"
    return "person"


def find_graph(text: str) -> tuple[list[Entity], list[Relation]]:
    """Entities in order of first appearance, and one relation per consecutive pair in a sentence."""
    entities: dict[str, Entity] = {}
    relations: dict[frozenset[str], Relation] = {}
    for sentence in sentences(text):
        unique: list[Mention] = []
        for mention in mentions(sentence):
            entity = entities.setdefault(mention.name, Entity(mention.name, mention.type))
            if sentence not in entity.sentences:
                entity.sentences.append(sentence)
            if all(m.name != mention.name for m in unique):
                unique.append(mention)
        for first, second in zip(unique, unique[1:], strict=False):
            between = re.findall(r"\b[a-z]{4,}\b", sentence[first.end : second.start])
            keywords = ", ".join(list(dict.fromkeys(between))[:3]) or "related"
            relations.setdefault(
                frozenset((first.name, second.name)),
                Relation(first.name, second.name, keywords, sentence),
            )
    return list(entities.values()), list(relations.values())


def extract(text: str, *, as_json: bool = False) -> str:
    """Extraction records for ``text`` in the format of ``prompts.ENTITY_EXTRACTION_SYSTEM``
    (or, ``as_json``, the object of ``prompts.ENTITY_EXTRACTION_JSON_SYSTEM``)."""
    found, relations = find_graph(text)
    entities = [(e.name, e.type, f"{e.name} is mentioned: {' '.join(e.sentences[:2])}")
                for e in found]
    pairs = [(r.source, r.target, r.keywords, r.description) for r in relations]
    return _records(entities, pairs, as_json)


def glean(text: str, *, as_json: bool = False) -> str:
    """Second-pass records: the acronyms (``NASA``) the first pass skipped."""
    known = {entity.name for entity in find_graph(text)[0]}
    entities = []
    for sentence in sentences(text):
        for acronym in _ACRONYM.findall(_unmarked(sentence)):
            if acronym not in known:
                known.add(acronym)
                entities.append((acronym, "organization", f"{acronym} is an acronym in: {sentence}"))
    return _records(entities, [], as_json)


def _records(entities: list[tuple[str, str, str]], relations: list[tuple[str, str, str, str]],
             as_json: bool) -> str:
    if as_json:
        return "```json\n" + json.dumps({
            "entities": [dict(zip(("name", "type", "description"), e, strict=True))
                         for e in entities],
            "relationships": [dict(zip(("source", "target", "keywords", "description"), r,
                                       strict=True)) for r in relations]}) + "\n```"
    lines = [_record("entity", *e) for e in entities]
    lines += [_record("relation", *r) for r in relations]
    return "\n".join([*lines, COMPLETION_DELIMITER])


def _record(*fields: str) -> str:
    return TUPLE_DELIMITER.join(fields)


# --- summary, keywords, answer --------------------------------------------------------


def summarize(prompt: str) -> str:
    """``"<name> (summary): "`` plus the first sentence of each distinct description.

    The descriptions are the lines of ``---Descriptions---`` (LambdaRAG) or of the fence
    after ``Description List:`` (LightRAG), the name in quotes or on a ``Name:`` line.
    """
    name_match = _SUMMARY_NAME.search(prompt) or _NAME_LINE.search(prompt)
    name = name_match.group(1) if name_match else "unknown"
    listed = section(prompt, "---Descriptions---")
    if not listed and _DESCRIPTION_LIST in prompt:
        fenced = _FENCED.search(prompt, prompt.find(_DESCRIPTION_LIST))
        listed = fenced.group(1) if fenced else ""
    firsts = [_first_sentence(_description(line)) for line in listed.splitlines()]
    summary = f"{name} (summary): " + " ".join(dict.fromkeys(f for f in firsts if f))
    return summary[:_SUMMARY_LIMIT]


def summarize_many(prompt: str) -> str:
    """The JSON object of a shared summary: each name's text as :func:`summarize` gives it."""
    firsts: dict[str, list[str]] = {}
    for line in section(prompt, "---Descriptions by name---").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        found = firsts.setdefault(str(record.get("name", "unknown")), [])
        found += [_first_sentence(str(d)) for d in record.get("descriptions", [])]
    return json.dumps({
        name: (f"{name} (summary): " + " ".join(dict.fromkeys(f for f in found if f)))[
            :_SUMMARY_LIMIT]
        for name, found in firsts.items()
    }, ensure_ascii=False)


def _description(line: str) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return line.strip()
    if isinstance(record, dict):
        return str(record.get("Description") or record.get("description") or "")
    return str(record)


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]


def keywords(query: str) -> str:
    """The keywords JSON: long words as high level, capitalised names as low level."""
    words = re.findall(r"[A-Za-z]+", query)
    if not words or all(word.lower() in GREETINGS for word in words):
        return json.dumps({"high_level_keywords": [], "low_level_keywords": []})
    lowered_stopwords = {w.lower() for w in STOPWORDS}
    high = [w.lower() for w in words if len(w) >= 6 and w.lower() not in lowered_stopwords]
    low = [m.name for s in sentences(query) for m in mentions(s) if m.name not in QUESTION_WORDS]
    return json.dumps(
        {
            "high_level_keywords": list(dict.fromkeys(high))[:5],
            "low_level_keywords": list(dict.fromkeys(low))[:5],
        }
    )


def answer(system: str) -> str:
    """A RAG answer listing what the context held, ending with its reference list."""
    context = system[system.find("---Context---") :]
    entity_names = [record["entity"] for record in _json_lines(context) if "entity" in record]
    chunk_count = len(_json_lines(_between(context, "Document Chunks", "Reference Document List")))
    references = [
        line.strip()
        for line in _between(context, "Reference Document List", None).splitlines()
        if _REFERENCE_LINE.match(line.strip())
    ]
    text = f"Answer from context. Entities: {', '.join(entity_names[:10])}. Chunks: {chunk_count}."
    instructions = section(system, "---Additional Instructions---")
    if instructions and instructions.lower() != "n/a":
        text += f"\nInstructions: {instructions}"
    return text + "\n\n### References\n" + ("\n".join(references) or "(none)")


def _between(text: str, start_line: str, end_line: str | None) -> str:
    """Lines from the one starting with ``start_line`` up to the one starting with ``end_line``."""
    start = re.search(rf"^{re.escape(start_line)}", text, re.MULTILINE)
    if start is None:
        return ""
    end = (
        re.search(rf"^{re.escape(end_line)}", text[start.end() :], re.MULTILINE)
        if end_line
        else None
    )
    return text[start.start() : start.end() + end.start()] if end else text[start.start() :]


def _json_lines(text: str) -> list[dict[str, object]]:
    records = []
    for line in text.splitlines():
        if line.strip().startswith("{"):
            try:
                record = json.loads(line.strip().rstrip(","))
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


# --- chat-client tasks -------------------------------------------------------------------


def chat_task(prompt: str) -> str | None:
    """The JSON a title, tags or follow-up prompt asks for (Open WebUI's task prompts).

    Such a prompt holds ``<chat_history>`` with ``USER:``/``ASSISTANT:`` lines and names
    the JSON key it wants. The answer is built from the first USER line; any other
    prompt gives None.
    """
    history = _CHAT_HISTORY.search(prompt)
    if history is None:
        return None
    first_user = next(
        (line[len("USER:") :].strip() for line in history.group(1).splitlines()
         if line.startswith("USER:")),
        "",
    )
    names = [m.name for s in sentences(first_user) for m in mentions(s) if m.name not in QUESTION_WORDS]
    topic = ", ".join(dict.fromkeys(names)) or "this topic"
    if '"follow_ups"' in prompt:
        return json.dumps({"follow_ups": [f"What else is known about {topic}?",
                                          f"Which documents mention {topic}?"]})
    if '"tags"' in prompt:
        return json.dumps({"tags": list(dict.fromkeys(names))[:3] or ["General"]})
    if '"title"' in prompt:
        return json.dumps({"title": " ".join(first_user.split()[:5]) or "New Chat"})
    return None


# --- embeddings -----------------------------------------------------------------------


def embed(text: str, dim: int) -> list[float]:
    """A hashed bag of words (plus lowercased multi-word names), L2-normalised.

    Texts that share words get similar vectors; the empty text gets a fixed unit vector.
    """
    vector = [0.0] * dim
    for digest in token_digests(text):
        vector[digest % dim] += 1.0
        vector[(digest // dim) % dim] += 0.5
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        return [1.0] + [0.0] * (dim - 1)
    return [v / norm for v in vector]


def token_digests(text: str) -> list[int]:
    """What :func:`embed` hashes: each word and each lowercased multi-word name of ``text``.

    Word ``digest`` adds 1.0 at ``digest % dim`` and 0.5 at ``(digest // dim) % dim``.
    """
    tokens = re.findall(r"\w+", text.lower())
    tokens += [m.name.lower() for s in sentences(text) for m in mentions(s) if " " in m.name]
    return [_digest(token) for token in tokens]


@lru_cache(maxsize=65536)
def _digest(token: str) -> int:
    """The token's md5 as an integer (cached: a corpus repeats its words)."""
    return int(hashlib.md5(token.encode()).hexdigest(), 16)


# --- rerank ---------------------------------------------------------------------------


def rerank(query: str, documents: Sequence[str], order: str = "relevance") -> list[float]:
    """A relevance score in [0, 1] per document.

    ``relevance``: the share of the query's words found in the document. ``reverse``: the
    last document scores highest and the first lowest (``(i + 1) / n``), so a test can
    tell reranked order from the order the documents were sent in.
    """
    if order == "reverse":
        return [(i + 1) / len(documents) for i in range(len(documents))]
    wanted = set(re.findall(r"\w+", query.lower()))
    return [len(wanted & set(re.findall(r"\w+", doc.lower()))) / max(len(wanted), 1)
            for doc in documents]
