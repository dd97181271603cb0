"""The fake LLM's brain: deterministic answers keyed on the engine's prompt headings."""

from __future__ import annotations

import json

import numpy as np

from lambdarag.llm.prompts import (
    COMPLETION_DELIMITER,
    ENTITY_CONTINUE_EXTRACTION,
    ENTITY_EXTRACTION_USER,
    KEYWORDS_EXTRACTION,
    KG_CONTEXT,
    RAG_RESPONSE,
    SUMMARIZE_DESCRIPTIONS,
    TUPLE_DELIMITER,
)
from tests.fakes import brain

TEXT = (
    "Alice Smith founded Acme Corp in Springfield. "
    "Bob Jones works with Alice Smith at NASA headquarters!\n"
    "The Tiber River flows past Rome."
)


def records(answer: str) -> tuple[dict[str, tuple[str, str]], dict[tuple[str, str], str]]:
    """Entities as name -> (type, description) and relations as (a, b) -> keywords."""
    lines = answer.splitlines()
    assert lines[-1] == COMPLETION_DELIMITER
    entities, relations = {}, {}
    for line in lines[:-1]:
        kind, *fields = line.split(TUPLE_DELIMITER)
        if kind == "entity":
            name, entity_type, description = fields
            entities[name] = (entity_type, description)
        else:
            source, target, keywords, _ = fields
            relations[(source, target)] = keywords
    return entities, relations


def extraction_messages() -> list[dict[str, str]]:
    return [{"role": "user", "content": ENTITY_EXTRACTION_USER.format(input_text=TEXT)}]


def test_extraction_finds_typed_entities_and_relations() -> None:
    # WHEN the brain answers an extraction prompt
    entities, relations = records(brain.respond("extract", extraction_messages()))
    # THEN capitalised runs are entities, typed by suffix or a preceding "in"
    assert {name: kind for name, (kind, _) in entities.items()} == {
        "Alice Smith": "person",
        "Acme Corp": "organization",
        "Springfield": "location",
        "Bob Jones": "person",
        "Tiber River": "location",
        "Rome": "person",
    }
    assert entities["Alice Smith"][1] == (
        "Alice Smith is mentioned: Alice Smith founded Acme Corp in Springfield. "
        "Bob Jones works with Alice Smith at NASA headquarters!"
    )
    # AND consecutive entities of a sentence are related by the long words between them
    assert relations == {
        ("Alice Smith", "Acme Corp"): "founded",
        ("Acme Corp", "Springfield"): "related",
        ("Bob Jones", "Alice Smith"): "works, with",
        ("Tiber River", "Rome"): "flows, past",
    }


def test_gleaning_adds_the_acronyms() -> None:
    first = brain.respond("extract", extraction_messages())
    messages = [
        *extraction_messages(),
        {"role": "assistant", "content": first},
        {
            "role": "user",
            "content": ENTITY_CONTINUE_EXTRACTION.format(completion_delimiter=COMPLETION_DELIMITER),
        },
    ]
    entities, relations = records(brain.respond("extract", messages))
    assert entities == {
        "NASA": (
            "organization",
            "NASA is an acronym in: Bob Jones works with Alice Smith at NASA headquarters!",
        )
    }
    assert relations == {}


def test_gleaning_with_nothing_new_is_just_the_marker() -> None:
    assert brain.glean("Alice met Bob.") == COMPLETION_DELIMITER


def test_summary_joins_distinct_first_sentences() -> None:
    descriptions = [
        {"Description": "Acme Corp makes anvils. It is old."},
        {"Description": "Acme Corp is in Springfield."},
        {"Description": "Acme Corp makes anvils. Big ones."},
    ]
    prompt = SUMMARIZE_DESCRIPTIONS.format(
        description_type="entity",
        description_name="Acme Corp",
        language="English",
        summary_length=100,
        description_list="\n".join(json.dumps(d) for d in descriptions),
    )
    assert brain.respond(None, [{"role": "user", "content": prompt}]) == (
        "Acme Corp (summary): Acme Corp makes anvils. Acme Corp is in Springfield."
    )


def test_keywords_are_json_with_both_levels() -> None:
    prompt = KEYWORDS_EXTRACTION.format(
        language="English", query="How did Alice Smith influence manufacturing at Acme Corp?"
    )
    answer = json.loads(brain.respond(None, [{"role": "user", "content": prompt}]))
    assert answer == {
        "high_level_keywords": ["influence", "manufacturing"],
        "low_level_keywords": ["Alice Smith", "Acme Corp"],
    }


def test_greeting_has_no_keywords() -> None:
    prompt = KEYWORDS_EXTRACTION.format(language="English", query="Hello!")
    answer = json.loads(brain.respond(None, [{"role": "user", "content": prompt}]))
    assert answer == {"high_level_keywords": [], "low_level_keywords": []}


def rag_system(user_prompt: str) -> str:
    context = KG_CONTEXT.format(
        entities_str='{"entity": "Alice", "type": "person"}\n{"entity": "Acme Corp", "type": "org"}',
        relations_str='{"entity1": "Alice", "entity2": "Acme Corp"}',
        text_chunks_str='{"reference_id": "1", "content": "a"}\n{"reference_id": "2", "content": "b"}',
        reference_list_str="[1] alice.txt\n[2] acme.md",
    )
    return RAG_RESPONSE.format(
        response_type="Multiple Paragraphs", user_prompt=user_prompt, context_data=context
    )


def test_answer_lists_entities_chunks_and_references() -> None:
    answer = brain.respond(rag_system("n/a"), [{"role": "user", "content": "Who is Alice?"}])
    assert answer == (
        "Answer from context. Entities: Alice, Acme Corp. Chunks: 2.\n\n"
        "### References\n[1] alice.txt\n[2] acme.md"
    )


def test_answer_repeats_additional_instructions() -> None:
    answer = brain.respond(rag_system("Answer in French"), [{"role": "user", "content": "Q"}])
    assert "\nInstructions: Answer in French\n\n### References\n" in answer


def test_anything_else_is_echoed() -> None:
    assert brain.respond(None, [{"role": "user", "content": "hi"}]) == "Echo: hi"
    assert brain.respond("be nice", [{"role": "user", "content": "hi"}]) == "[system] Echo: hi"


def test_stream_deltas_rebuild_the_text() -> None:
    text = " one two  three four five six\nseven eight nine ten eleven "
    deltas = brain.split_deltas(text)
    assert len(deltas) == 3
    assert "".join(deltas) == text


def test_embeddings_are_unit_vectors_similar_for_shared_words() -> None:
    alice = np.array(brain.embed("Alice Smith works at Acme Corp", 128))
    same_words = np.array(brain.embed("Acme Corp hired Alice Smith", 128))
    other = np.array(brain.embed("rivers flow through valleys", 128))
    assert np.isclose(np.linalg.norm(alice), 1.0)
    assert alice @ same_words > 0.5 > alice @ other
    assert brain.embed("Alice", 128) == brain.embed("Alice", 128)
    assert np.isclose(np.linalg.norm(brain.embed("", 128)), 1.0)
