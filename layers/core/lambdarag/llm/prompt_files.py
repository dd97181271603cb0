"""Prompt files under PROMPT_DIR (default ``./prompts``), as LightRAG 1.5 reads them.

- ``ENTITY_TYPE_PROMPT_FILE``: a YAML profile in ``PROMPT_DIR/entity_type/`` with
  ``entity_types_guidance`` (how to pick an entity's type, replacing the default type list)
  and ``entity_extraction_examples`` / ``entity_extraction_json_examples`` (worked examples
  for the text and the JSON format; the one of the mode in use is required).
- ``USER_PROMPT_PREFIX_FILE``: a ``.md`` or ``.txt`` file in ``PROMPT_DIR/user_prompt/``
  whose text is put before every query's ``user_prompt`` (over ``USER_PROMPT_PREFIX``).

A file is named by its bare name only: a path, a separator or ``..`` is refused, so a
setting cannot reach outside its folder. Every problem is a ValueError naming the setting;
the settings turn it into one start-up line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ENTITY_TYPE_DIR = "entity_type"
USER_PROMPT_DIR = "user_prompt"


@dataclass(frozen=True)
class EntityTypeProfile:
    guidance: str
    examples: tuple[str, ...]  # of the extraction format in use


def prompt_file(prompt_dir: Path, subdir: str, name: str, setting: str,
                suffixes: tuple[str, ...]) -> Path:
    """The file ``name`` of ``PROMPT_DIR/<subdir>``, once the name is a bare, allowed one."""
    bare = Path(name)
    if "\\" in name or "/" in name or bare.name != name or name in (".", ".."):
        raise ValueError(f"{setting}: must be a file name only (files are read from "
                         f"PROMPT_DIR/{subdir}), got {name!r}")
    if bare.suffix.lower() not in suffixes:
        raise ValueError(f"{setting}: must end with {' or '.join(suffixes)}, got {name!r}")
    path = prompt_dir / subdir / name
    if not path.is_file():
        raise ValueError(f"{setting}: {path} does not exist (PROMPT_DIR is {prompt_dir})")
    return path


def entity_type_profile(prompt_dir: Path, name: str, *, json_mode: bool) -> EntityTypeProfile:
    """The profile ``ENTITY_TYPE_PROMPT_FILE`` names, for the text or the JSON format."""
    import yaml

    path = prompt_file(prompt_dir, ENTITY_TYPE_DIR, name, "ENTITY_TYPE_PROMPT_FILE",
                       (".yml", ".yaml"))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"ENTITY_TYPE_PROMPT_FILE: {path} is not valid YAML: "
                         f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ValueError(f"ENTITY_TYPE_PROMPT_FILE: {path} must hold a YAML mapping")
    guidance = data.get("entity_types_guidance")
    if not isinstance(guidance, str) or not guidance.strip():
        raise ValueError(f"ENTITY_TYPE_PROMPT_FILE: {path} needs entity_types_guidance, a "
                         "non-empty text")
    key = "entity_extraction_json_examples" if json_mode else "entity_extraction_examples"
    examples = data.get(key)
    if isinstance(examples, str):
        examples = [examples]
    if (not isinstance(examples, list) or not examples
            or not all(isinstance(e, str) and e.strip() for e in examples)):
        mode = "JSON" if json_mode else "text"
        raise ValueError(f"ENTITY_TYPE_PROMPT_FILE: {path} needs {key} (a list of texts): "
                         f"extraction runs in the {mode} format")
    return EntityTypeProfile(guidance.strip(), tuple(e.rstrip() for e in examples))


def user_prompt_prefix(prompt_dir: Path, name: str) -> str:
    """The text of ``USER_PROMPT_PREFIX_FILE``, as written."""
    path = prompt_file(prompt_dir, USER_PROMPT_DIR, name, "USER_PROMPT_PREFIX_FILE",
                       (".md", ".txt"))
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"USER_PROMPT_PREFIX_FILE: {path} is not UTF-8 text") from None
