"""Tolerant parsing of extraction records: what messy LLM output still yields."""

from __future__ import annotations

from lambdarag.indexing.records import merge_gleaning, normalise_name, parse_records

D = "<|#|>"


def test_clean_records_parse_into_entities_and_relations() -> None:
    text = (f"entity{D}Alice{D}Person{D}An engineer.\n"
            f"entity{D}Acme{D}Organization{D}A company.\n"
            f"relation{D}Alice{D}Acme{D}works at, employment{D}Alice works at Acme.\n<|COMPLETE|>")
    result = parse_records(text)
    assert [(e.name, e.type) for e in result.entities] == [("Alice", "person"), ("Acme", "organization")]
    [relation] = result.relations
    assert (relation.source, relation.target, relation.keywords, relation.weight) == (
        "Alice", "Acme", "works at,employment", 1.0)


def test_glued_records_and_mangled_delimiters_are_repaired() -> None:
    text = (f"entity<|#>Alice<#|>person<|##|>An engineer.{D}entity{D}Acme{D}organization{D}A firm."
            f"<|COMPLETE|>relationship{D}Alice{D}Acme{D}job{D}Works there.")
    result = parse_records(text)
    assert [e.name for e in result.entities] == ["Alice", "Acme"]
    assert [r.keywords for r in result.relations] == ["job"]


def test_noise_is_tolerated_and_bad_rows_dropped() -> None:
    text = "\n".join([
        "```",
        f"- entity{D}\"Alice\"{D}Person{D}Quoted name.",
        f"1. entity{D}<b>Bob</b>{D}per son{D}Bold name.",
        f"(entity{D}Carol{D}person{D}In parentheses.)",
        f"entity{D}Dan{D}per/son{D}Bad type.",
        f"entity{D}Eve{D}person{D}",
        f"relation{D}Alice{D}Alice{D}self{D}A self loop.",
        f"entity{D}Alice{D}Bob{D}friends{D}A relation written as an entity.",
        "Some chatter the model added.",
        "```",
    ])
    result = parse_records(text)
    assert [(e.name, e.type) for e in result.entities] == [("Alice", "person"), ("Bob", "person"),
                                                           ("Carol", "person")]
    assert [(r.source, r.target) for r in result.relations] == [("Alice", "Bob")]
    assert result.dropped == 3


def test_names_are_normalised() -> None:
    assert normalise_name("  “Ｔｏｋｙｏ”  ") == "Tokyo"
    assert normalise_name("北京 大学") == "北京大学"
    assert normalise_name("A &amp; B") == "A & B"
    assert len(normalise_name("x" * 400)) == 256


def test_json_mode_output_is_read_too() -> None:
    text = ('{"entities": [{"name": "Alice", "type": "Person", "description": "An engineer."}], '
            '"relationships": [{"source": "Alice", "target": "Acme", "keywords": "job", '
            '"description": "Works there."}]}')
    result = parse_records(text)
    assert result.entities[0].name == "Alice" and result.relations[0].target == "Acme"


def test_gleaning_keeps_the_longer_description() -> None:
    first = parse_records(f"entity{D}Alice{D}person{D}Short.")
    gleaned = parse_records(f"entity{D}Alice{D}person{D}A much longer description.\n"
                            f"entity{D}Bob{D}person{D}New.")
    merged = merge_gleaning(first, gleaned)
    assert {e.name: e.description for e in merged.entities} == {
        "Alice": "A much longer description.", "Bob": "New."}
