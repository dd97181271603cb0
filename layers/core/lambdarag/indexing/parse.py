"""Turning uploaded files into text.

Plain-text formats are decoded here (UTF-8, then UTF-16 by BOM, then Latin-1) and
become one section. Rich formats keep their structure as a list of sections
``(text, meta)``: pdf pages (``{"page": n}``, 1-based), pptx slides (``{"slide": n}``),
xlsx sheets (``{"sheet": name}``) and docx (one section, ``{}``). Each rich parser
imports its library lazily. Zip-based formats are checked for zip bombs and pdfs
for page and text limits before and while parsing.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import re
import zipfile
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from lambdarag.errors import LambdaRAGError
from lambdarag.utils import canonical_source

Section = tuple[str, dict[str, Any]]

TEXT_EXTENSIONS = (
    ".txt .md .mdx .html .htm .csv .json .xml .yaml .yml .log .conf .ini .properties .sql "
    ".bat .sh .c .h .cpp .hpp .py .java .js .ts .swift .go .rb .php .css .scss .less .tex .rtf"
).split()
RICH_EXTENSIONS = [".pdf", ".docx", ".pptx", ".xlsx"]
SUPPORTED_EXTENSIONS = tuple(sorted(TEXT_EXTENSIONS + RICH_EXTENSIONS))
SECTION_SEPARATOR = "\n\n"

MAX_ZIP_UNCOMPRESSED = 200 * 1024 * 1024  # bytes, all members together
MAX_ZIP_MEMBERS = 10_000
ZIP_BOMB_RATIO = 100  # uncompressed / compressed ...
ZIP_BOMB_MIN_SIZE = 50 * 1024 * 1024  # ... above this many uncompressed bytes
MAX_PDF_PAGES = 2000
MAX_TEXT_CHARS = 50_000_000
SNIFF_BYTES = 4096  # the start of a file that tells whether it is what its extension says
# ``report.[mineru].pdf``: a bracketed parser hint just before the extension
_PARSER_HINT = re.compile(r"^(?P<stem>.+)\.\[(?P<hint>[^\[\]./\\]+)\](?P<suffix>\.[^.]+)$")


class ParseError(LambdaRAGError, ValueError):
    """The file cannot be turned into text; the message says why."""


def canonical_basename(file_source: str | None) -> str:
    """The name a document is known by: the basename, without a parser hint.

    ``docs/q1.[mineru].pdf`` becomes ``q1.pdf``; empty and placeholder names become
    ``unknown_source``. In LightRAG 1.5 the hint picks a parsing engine; this server has
    one parser per file type, so the hint is only removed. Stored ``file_path`` values,
    duplicate checks (409) and extension checks all use this name.
    """
    name = canonical_source(file_source)
    hinted = _PARSER_HINT.match(name)
    return f"{hinted['stem']}{hinted['suffix']}" if hinted else name


def hint_options(file_name: str | None) -> str:
    """The processing options of a parser hint: ``R`` in ``notes.[-R].md`` or
    ``q1.[mineru-iR].pdf``; empty without a hint or options."""
    hinted = _PARSER_HINT.match(canonical_source(file_name))
    if not hinted:
        return ""
    return hinted["hint"].partition("-")[2].strip()


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


# ------------------------------------------------------------------ entry points


def parse_sections(filename: str, data: bytes) -> list[Section]:
    """Parse ``data`` (named ``filename``) into non-empty sections ``(text, meta)``."""
    suffix = Path(filename).suffix.lower()
    if not is_supported(filename):
        raise ParseError(f"Unsupported file type: {Path(filename).suffix or filename}")
    parser = _RICH_PARSERS.get(suffix)
    if parser is None:
        return [(_parse_text(filename, data), {})]
    sections = [(text, meta) for text, meta in parser(filename, data) if text.strip()]
    if not sections:
        raise ParseError(f"{filename} contains no text")
    return sections


def join_sections(sections: Iterable[Section]) -> str:
    """The document text: section texts joined by a blank line."""
    return SECTION_SEPARATOR.join(text for text, _ in sections)


def parse_bytes(filename: str, data: bytes) -> str:
    """Parse ``data`` into one text (sections joined); plain text comes back unchanged."""
    return join_sections(parse_sections(filename, data))


def is_structured(sections: list[Section]) -> bool:
    """True unless the sections are a single plain-text section without meta."""
    return not (len(sections) == 1 and not sections[0][1])


def section_index(sections: list[Section]) -> list[dict[str, Any]]:
    """Character spans of each section in :func:`join_sections`' text, with their meta."""
    index, offset = [], 0
    for text, meta in sections:
        index.append({"start": offset, "end": offset + len(text), "meta": dict(meta)})
        offset += len(text) + len(SECTION_SEPARATOR)
    return index


def sections_from_index(text: str, index: list[dict[str, Any]] | None) -> list[Section]:
    """Rebuild the sections of ``text`` from :func:`section_index`; no index = one section."""
    if not index:
        return [(text, {})]
    return [(text[span["start"]:span["end"]], dict(span.get("meta") or {})) for span in index]


async def load_document_sections(
    source: str, read: Callable[[str], Awaitable[bytes]] | None = None
) -> list[Section]:
    """Read and parse a stored source file into sections.

    A local path is read here; any other source (``s3://...``) through ``read``, the
    workspace's input store, which raises ParseError when the file is gone.
    """
    if "://" in source:
        if read is None:
            raise ParseError(f"cannot read {source}: this runtime keeps no such files")
        data = await read(source)
        return await asyncio.to_thread(parse_sections, source.rsplit("/", 1)[-1], data)
    path = Path(source)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise ParseError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    return await asyncio.to_thread(parse_sections, path.name, data)


async def load_document_text(source: str) -> str:
    """Read and parse a stored source file (a local path) into one text."""
    return join_sections(await load_document_sections(source))


# ------------------------------------------------------------------- plain text


def _parse_text(filename: str, data: bytes) -> str:
    if _binary(data):
        raise ParseError(f"{filename} looks like a binary file, not text")
    text = decode_text(data)
    if not text.strip():
        raise ParseError(f"{filename} contains no text")
    return text


def _binary(head: bytes) -> bool:
    """NUL bytes near the start, where no text but UTF-16 has them."""
    return b"\x00" in head[:SNIFF_BYTES] and not head.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def sniff(filename: str, head: bytes, *, blank: bool = False) -> str | None:
    """Why a file beginning with ``head`` cannot be indexed as its extension says, or None.

    ``head`` is the file's first ``SNIFF_BYTES`` (fewer for a smaller file); ``blank``
    says the whole file is empty or, for a text type, only whitespace. An upload is refused
    on this answer before anything is stored; the parsers check the rest later (a PDF
    without text, for instance).
    """
    suffix = Path(filename).suffix.lower()
    if blank and (suffix in TEXT_EXTENSIONS or not head):
        return f"{filename} is empty: there is no text to index"
    if suffix in TEXT_EXTENSIONS and _binary(head):
        return (f"{filename} looks like a binary file, not text: upload it under the "
                "extension of its real type")
    if suffix == ".pdf" and head and b"%PDF-" not in head[:1024]:
        return f"{filename} is not a PDF file: it has no %PDF- header"
    if suffix in (".docx", ".pptx", ".xlsx") and head and not head.startswith(b"PK"):
        return f"{filename} is not a {suffix[1:].upper()} file: it is not a zip container"
    return None


# ------------------------------------------------------------------------ guards


def check_zip(filename: str, data: bytes, kind: str) -> None:
    """Refuse a zip container that is not a zip, has too many members or is a bomb."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ParseError(f"could not read {kind}: {filename} is not a valid {kind} file ({exc})") from exc
    if len(members) > MAX_ZIP_MEMBERS:
        raise ParseError(
            f"{filename} looks like a zip bomb: {len(members)} members (limit {MAX_ZIP_MEMBERS})"
        )
    total = sum(m.file_size for m in members)
    packed = max(sum(m.compress_size for m in members), 1)
    if total > MAX_ZIP_UNCOMPRESSED or (total > ZIP_BOMB_MIN_SIZE and total / packed > ZIP_BOMB_RATIO):
        raise ParseError(
            f"{filename} looks like a zip bomb: {total} bytes uncompressed from {packed} "
            f"(limit {MAX_ZIP_UNCOMPRESSED} bytes, ratio {ZIP_BOMB_RATIO}x above {ZIP_BOMB_MIN_SIZE})"
        )


def _check_size(filename: str, used: int) -> None:
    if used > MAX_TEXT_CHARS:
        raise ParseError(f"{filename} has too much text: over {MAX_TEXT_CHARS} characters")


def _limited(filename: str, sections: Iterator[Section]) -> list[Section]:
    """Collect sections, stopping with ParseError once the text grows too large."""
    kept, used = [], 0
    for text, meta in sections:
        used += len(text)
        _check_size(filename, used)
        kept.append((text, meta))
    return kept


def _read(kind: str, filename: str, func: Callable[[], list[Section]]) -> list[Section]:
    """Run a library parser; any failure but our own ParseError becomes one with the reason."""
    try:
        return func()
    except ParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - libraries raise many types for corrupt files
        raise ParseError(f"could not read {kind}: {type(exc).__name__}: {exc}") from exc


# -------------------------------------------------------------------------- pdf


def _parse_pdf(filename: str, data: bytes) -> list[Section]:
    return _read("PDF", filename, lambda: _limited(filename, _pdf_pages(filename, data)))


def _pdf_pages(filename: str, data: bytes) -> Iterator[Section]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise ParseError(f"could not read PDF: {filename} is encrypted")
    count = len(reader.pages)
    if count > MAX_PDF_PAGES:
        raise ParseError(f"{filename} has too many pages: {count} (limit {MAX_PDF_PAGES})")
    for number, page in enumerate(reader.pages, start=1):
        yield (page.extract_text() or "").strip(), {"page": number}


# ------------------------------------------------------------------------- docx


def _parse_docx(filename: str, data: bytes) -> list[Section]:
    check_zip(filename, data, "DOCX")
    return _read("DOCX", filename, lambda: _limited(filename, _docx_body(data)))


def _docx_body(data: bytes) -> Iterator[Section]:
    from docx import Document
    from docx.table import Table

    document = Document(io.BytesIO(data))
    blocks = []
    for block in document.iter_inner_content():
        text = _table_text(block) if isinstance(block, Table) else block.text
        if text.strip():
            blocks.append(text.strip())
    yield "\n".join(blocks), {}


def _table_text(table: Any) -> str:
    """Rows of a docx/pptx table as tab-separated lines (merged cells repeat)."""
    lines = ["\t".join(cell.text.strip() for cell in row.cells) for row in table.rows]
    return "\n".join(line for line in lines if line.strip())


# ------------------------------------------------------------------------- pptx


def _parse_pptx(filename: str, data: bytes) -> list[Section]:
    check_zip(filename, data, "PPTX")
    return _read("PPTX", filename, lambda: _limited(filename, _pptx_slides(data)))


def _pptx_slides(data: bytes) -> Iterator[Section]:
    from pptx import Presentation

    presentation = Presentation(io.BytesIO(data))
    for number, slide in enumerate(presentation.slides, start=1):
        texts = [t for shape in slide.shapes for t in _shape_texts(shape)]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            texts.append(slide.notes_slide.notes_text_frame.text)
        yield "\n".join(t.strip() for t in texts if t.strip()), {"slide": number}


def _shape_texts(shape: Any) -> Iterator[str]:
    """Text of a slide shape: text frames, tables, and the shapes inside groups."""
    if getattr(shape, "shapes", None) is not None:  # a group shape
        for inner in shape.shapes:
            yield from _shape_texts(inner)
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        yield shape.text_frame.text
    if getattr(shape, "has_table", False) and shape.has_table:
        yield _table_text(shape.table)


# ------------------------------------------------------------------------- xlsx


def _parse_xlsx(filename: str, data: bytes) -> list[Section]:
    check_zip(filename, data, "XLSX")
    return _read("XLSX", filename, lambda: _limited(filename, _xlsx_sheets(data)))


def _xlsx_sheets(data: bytes) -> Iterator[Section]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            lines = [_row_line(row) for row in sheet.iter_rows(values_only=True)]
            yield "\n".join(line for line in lines if line), {"sheet": sheet.title}
    finally:
        workbook.close()


def _row_line(row: tuple[Any, ...]) -> str:
    """One sheet row as a tab-separated line; empty trailing cells dropped."""
    cells = ["" if value is None else str(value).replace("\t", " ").replace("\n", " ")
             for value in row]
    while cells and not cells[-1].strip():
        cells.pop()
    return "\t".join(cells)


_RICH_PARSERS: dict[str, Callable[[str, bytes], list[Section]]] = {
    ".pdf": _parse_pdf, ".docx": _parse_docx, ".pptx": _parse_pptx, ".xlsx": _parse_xlsx,
}
