"""Rich file formats: pdf, docx, pptx, xlsx parse into sections; guards refuse bad files.

The fixtures are built here with the same libraries (the pdf by hand), so the
functional tests import the builders too.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from lambdarag.indexing import parse
from lambdarag.indexing.chunking import chunk_sections, chunk_text
from lambdarag.indexing.parse import ParseError, parse_bytes, parse_sections

# ------------------------------------------------------------------ builders


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF: one Helvetica text line per page, with a correct xref."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({_pdf_string(text)}) Tj ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    from docx import Document

    document = Document()
    document.add_heading(paragraphs[0], level=1)
    for text in paragraphs[1:]:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_pptx(slides: list[tuple[str, str]]) -> bytes:
    from pptx import Presentation

    presentation = Presentation()
    for title, body in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def make_xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_zip_bomb_docx(size_mb: int = 60) -> bytes:
    """A real docx with an extra, highly compressible member of ``size_mb`` MiB."""
    buffer = io.BytesIO(make_docx(["Title", "Body"]))
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/media/zeros.bin", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(size_mb):
                member.write(block)
    return buffer.getvalue()


# ------------------------------------------------------------------------ pdf


def test_pdf_pages_become_sections_with_page_numbers() -> None:
    data = make_pdf(["Page one text", "Page two (with parens)", "Page three text"])
    sections = parse_sections("report.pdf", data)
    assert [meta for _, meta in sections] == [{"page": 1}, {"page": 2}, {"page": 3}]
    assert sections[0][0] == "Page one text"
    assert sections[1][0] == "Page two (with parens)"
    assert parse_bytes("report.pdf", data) == "Page one text\n\nPage two (with parens)\n\nPage three text"


def test_pdf_blank_pages_are_dropped_and_an_empty_pdf_is_refused() -> None:
    sections = parse_sections("a.pdf", make_pdf(["First", "", "Third"]))
    assert [meta["page"] for _, meta in sections] == [1, 3]
    with pytest.raises(ParseError, match="contains no text"):
        parse_sections("empty.pdf", make_pdf(["", ""]))


def test_corrupt_pdf_is_a_parse_error_with_the_reason() -> None:
    with pytest.raises(ParseError, match="could not read PDF: "):
        parse_sections("broken.pdf", b"%PDF-1.4\nthis is not really a pdf at all\n")
    with pytest.raises(ParseError, match="could not read PDF: "):
        parse_sections("noise.pdf", bytes(range(256)) * 8)


def test_pdf_page_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "MAX_PDF_PAGES", 2)
    with pytest.raises(ParseError, match="too many pages: 3"):
        parse_sections("big.pdf", make_pdf(["a", "b", "c"]))


def test_text_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "MAX_TEXT_CHARS", 10)
    with pytest.raises(ParseError, match="too much text"):
        parse_sections("long.pdf", make_pdf(["Page one text", "Page two text"]))


# ----------------------------------------------------------------------- docx


def test_docx_paragraphs_and_tables_in_order() -> None:
    data = make_docx(["Quarterly Report", "Revenue grew strongly.", "Costs fell."],
                     table=[["Region", "Revenue"], ["North", "120"]])
    [(text, meta)] = parse_sections("report.docx", data)
    assert meta == {}
    assert text == "Quarterly Report\nRevenue grew strongly.\nCosts fell.\nRegion\tRevenue\nNorth\t120"


def test_docx_zip_bomb_is_refused() -> None:
    with pytest.raises(ParseError, match="looks like a zip bomb"):
        parse_sections("bomb.docx", make_zip_bomb_docx())


def test_zip_member_count_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "MAX_ZIP_MEMBERS", 3)
    with pytest.raises(ParseError, match="looks like a zip bomb: .* members"):
        parse_sections("many.docx", make_docx(["Title", "Body"]))


def test_not_a_zip_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="could not read DOCX: "):
        parse_sections("fake.docx", b"plain text pretending to be a docx")
    with pytest.raises(ParseError, match="could not read XLSX: "):
        parse_sections("fake.xlsx", make_docx(["A docx", "not a workbook"]))


# ----------------------------------------------------------------------- pptx


def test_pptx_slides_become_sections_with_slide_numbers() -> None:
    data = make_pptx([("Intro", "Welcome to the deck"), ("Results", "Sales doubled")])
    sections = parse_sections("deck.pptx", data)
    assert sections == [("Intro\nWelcome to the deck", {"slide": 1}),
                        ("Results\nSales doubled", {"slide": 2})]


# ----------------------------------------------------------------------- xlsx


def test_xlsx_sheets_become_sections_with_header_rows() -> None:
    data = make_xlsx({"Sales": [["Region", "Amount"], ["North", 120], ["South", None]],
                      "Empty": [], "Staff": [["Name"], ["Ada"]]})
    sections = parse_sections("book.xlsx", data)
    assert sections == [("Region\tAmount\nNorth\t120\nSouth", {"sheet": "Sales"}),
                        ("Name\nAda", {"sheet": "Staff"})]


# -------------------------------------------------------------- plain + index


def test_plain_text_is_one_section_and_unchanged() -> None:
    assert parse_sections("a.txt", b"hello\nworld\n") == [("hello\nworld\n", {})]
    assert parse_bytes("a.txt", b"hello\nworld\n") == "hello\nworld\n"
    assert ".pdf" in parse.SUPPORTED_EXTENSIONS and ".xlsx" in parse.SUPPORTED_EXTENSIONS


def test_section_index_round_trips_through_the_joined_text() -> None:
    sections = [("one", {"page": 1}), ("two two", {"page": 2})]
    text = parse.join_sections(sections)
    assert parse.sections_from_index(text, parse.section_index(sections)) == sections
    assert parse.sections_from_index("plain", None) == [("plain", {})]


# ------------------------------------------------------------------- chunking


def test_chunks_record_the_sections_they_span() -> None:
    sections = [(f"page {n} " + "word " * 30, {"page": n}) for n in range(1, 5)]
    chunks = chunk_sections(sections, chunk_size=50, overlap=10)
    assert [c["chunk_order_index"] for c in chunks] == list(range(len(chunks)))
    assert chunks[0]["pages"] == [1, 2]
    assert all(c["pages"] == sorted(c["pages"]) for c in chunks)
    assert sorted({p for c in chunks for p in c["pages"]}) == [1, 2, 3, 4]
    whole = chunk_sections(sections, chunk_size=1200, overlap=100)
    assert len(whole) == 1 and whole[0]["pages"] == [1, 2, 3, 4]
    assert whole[0]["content"] == parse.join_sections(sections).strip()


def test_plain_sections_chunk_exactly_like_chunk_text() -> None:
    text = "alpha beta gamma " * 200
    assert chunk_sections([(text, {})], chunk_size=64, overlap=8) == chunk_text(
        text, chunk_size=64, overlap=8)


def test_sheet_and_slide_keys() -> None:
    chunks = chunk_sections([("a", {"sheet": "Sales"}), ("b", {"sheet": "Staff"})])
    assert chunks[0]["sheets"] == ["Sales", "Staff"]
    chunks = chunk_sections([("a", {"slide": 2})])
    assert chunks[0]["slides"] == [2] and "pages" not in chunks[0]
