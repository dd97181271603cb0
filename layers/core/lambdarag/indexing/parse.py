"""Turning uploaded files into text.

Plain-text formats are decoded here (UTF-8, then UTF-16 by BOM, then Latin-1).
Rich formats (pdf, docx, pptx, xlsx) are added by the file-format work; until then
they are rejected at upload with the list of supported types.
"""

from __future__ import annotations

import asyncio
import codecs
from pathlib import Path

TEXT_EXTENSIONS = (
    ".txt .md .mdx .html .htm .csv .json .xml .yaml .yml .log .conf .ini .properties .sql "
    ".bat .sh .c .h .cpp .hpp .py .java .js .ts .swift .go .rb .php .css .scss .less .tex .rtf"
).split()
SUPPORTED_EXTENSIONS = tuple(sorted(TEXT_EXTENSIONS))


class ParseError(ValueError):
    """The file cannot be turned into text; the message says why."""


def is_supported(filename: str) -> bool:
    return Path(filename).suffix.lower() in SUPPORTED_EXTENSIONS


def decode_text(data: bytes) -> str:
    """Decode text bytes: BOM-marked UTF-8/16 first, then UTF-8, then Latin-1."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_bytes(filename: str, data: bytes) -> str:
    if not is_supported(filename):
        raise ParseError(f"Unsupported file type: {Path(filename).suffix or filename}")
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ParseError(f"{filename} looks like a binary file, not text")
    text = decode_text(data)
    if not text.strip():
        raise ParseError(f"{filename} contains no text")
    return text


async def load_document_text(source: str) -> str:
    """Read and parse a stored source file (a local path)."""
    path = Path(source)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise ParseError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    return parse_bytes(path.name, data)
