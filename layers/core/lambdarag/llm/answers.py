"""Reading the JSON object an LLM was asked for, leniently.

Models wrap JSON in code fences, think aloud in ``<think>`` tags first, or get a comma
wrong; :func:`json_object` takes the outermost ``{...}`` of what is left and repairs it
(json-repair), so the keyword, summary and JSON-mode extraction answers are read alike.
"""

from __future__ import annotations

import re
from typing import Any

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.M)


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in ``text``, or None when there is none."""
    cleaned = _FENCE.sub("", _THINK.sub("", text)).strip()
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0 or end <= start:
        return None
    import json_repair  # only when an LLM answer must be parsed

    try:
        data = json_repair.loads(cleaned[start : end + 1])
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
