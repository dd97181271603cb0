"""Provider options by family: ``OLLAMA_LLM_NUM_CTX=8192`` or ``--ollama-llm-num_ctx 8192``.

LightRAG's server names these options per family (``ollama_llm``, ``ollama_embedding``,
``openai_llm``) and reads each as ``<FAMILY>_<NAME>`` from the environment or
``--<family>-<name>`` from its command line. This table holds the names and types it
offers, so both spellings parse to the value a provider expects: numbers, booleans, and
JSON for lists and objects (``stop``, ``extra_body``). A name the table lacks is still
passed on, read as a number or boolean when it looks like one.
"""

from __future__ import annotations

import json
from typing import Any

# kind: "int" | "float" | "bool" | "str" | "list" (JSON array of strings) | "dict" (JSON object)
# | "think" (true/false or a reasoning level)
_OLLAMA: dict[str, tuple[str, str]] = {
    "num_ctx": ("int", "context window size (tokens)"),
    "num_predict": ("int", "most tokens to predict"),
    "num_keep": ("int", "tokens to keep from the initial prompt"),
    "seed": ("int", "random seed (-1: random)"),
    "temperature": ("float", "randomness, 0.0-2.0"),
    "top_k": ("int", "top-k sampling (0: off)"),
    "top_p": ("float", "nucleus sampling, 0.0-1.0"),
    "tfs_z": ("float", "tail free sampling (1.0: off)"),
    "typical_p": ("float", "typical probability mass (1.0: off)"),
    "min_p": ("float", "minimum probability (0.0: off)"),
    "repeat_last_n": ("int", "tokens looked back for the repetition penalty"),
    "repeat_penalty": ("float", "repetition penalty (1.0: none)"),
    "presence_penalty": ("float", "presence penalty, -2.0 to 2.0"),
    "frequency_penalty": ("float", "frequency penalty, -2.0 to 2.0"),
    "mirostat": ("int", "Mirostat sampling (0: off, 1, 2)"),
    "mirostat_tau": ("float", "Mirostat target entropy"),
    "mirostat_eta": ("float", "Mirostat learning rate"),
    "numa": ("bool", "NUMA optimisation"),
    "num_batch": ("int", "batch size"),
    "num_gpu": ("int", "GPUs to use (-1: auto)"),
    "main_gpu": ("int", "main GPU index"),
    "low_vram": ("bool", "optimise for low VRAM"),
    "num_thread": ("int", "CPU threads (0: auto)"),
    "f16_kv": ("bool", "half-precision key/value cache"),
    "logits_all": ("bool", "return logits for all tokens"),
    "vocab_only": ("bool", "load the vocabulary only"),
    "use_mmap": ("bool", "memory-map model files"),
    "use_mlock": ("bool", "lock the model in memory"),
    "embedding_only": ("bool", "embeddings only"),
    "penalize_newline": ("bool", "penalise newline tokens"),
    "stop": ("list", 'stop sequences, a JSON array: \'["</s>"]\''),
}
FAMILIES: dict[str, dict[str, tuple[str, str]]] = {
    "ollama_llm": {**_OLLAMA, "think": (
        "think", "the model's thinking trace: true, false or low/medium/high")},
    "ollama_embedding": dict(_OLLAMA),
    "openai_llm": {
        "frequency_penalty": ("float", "frequency penalty, -2.0 to 2.0"),
        "max_completion_tokens": ("int", "most tokens to generate"),
        "presence_penalty": ("float", "presence penalty, -2.0 to 2.0"),
        "reasoning_effort": ("str", "reasoning effort: low, medium, high"),
        "safety_identifier": ("str", "safety identifier"),
        "service_tier": ("str", "service tier"),
        "stop": ("list", 'stop sequences, a JSON array: \'["</s>"]\''),
        "temperature": ("float", "randomness, 0.0-2.0"),
        "top_p": ("float", "nucleus sampling, 0.0-1.0"),
        "max_tokens": ("int", "most tokens to generate (older name of max_completion_tokens)"),
        "extra_body": ("dict", 'extra request fields, a JSON object: \'{"reasoning": {}}\''),
    },
}
# The family each binding reads (LightRAG's pairing: azure_openai uses the OpenAI options).
LLM_FAMILY = {"openai": "openai_llm", "azure_openai": "openai_llm", "ollama": "ollama_llm"}
EMBEDDING_FAMILY = {"ollama": "ollama_embedding"}


class OptionError(ValueError):
    """An option's value does not have its type; the message says what it takes."""


def parse(family: str, name: str, raw: str) -> Any:
    """The value of ``<family>_<name>`` given as text, typed as the provider takes it."""
    kind = FAMILIES.get(family, {}).get(name, ("", ""))[0]
    text = raw.strip()
    if kind in ("list", "dict"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        want = list if kind == "list" else dict
        if not isinstance(value, want):
            raise OptionError(f"takes a JSON {'array' if kind == 'list' else 'object'}")
        return value
    if kind == "str":
        return raw
    if kind in ("bool", "think"):
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        if kind == "think" and text.lower() in ("low", "medium", "high"):
            return text.lower()
        raise OptionError("takes true or false" + (" or low/medium/high" if kind == "think" else ""))
    if kind in ("int", "float"):
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            raise OptionError(f"takes {'an integer' if kind == 'int' else 'a number'}") from None
    return _scalar(raw)


def _scalar(raw: str) -> Any:
    lowered = raw.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            continue
    return raw
