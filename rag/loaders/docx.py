"""Word documents (.docx) via python-docx: paragraphs and table cells in document order.

Why document order: a table between two paragraphs belongs to that place in the text, so chunks
keep the context around it. Old binary .doc files are not supported (no pure-Python reader).
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.base.errors import LoadError
from rag.base.types import LoadedDocument, Page, Section
from rag.loaders.base import clean_text, human_size, register

# python-docx inflates every part of the package into memory and parses the XML ones into a
# tree (~10x their size): a 1 MB zip bomb once reached 2 GB. Declared sizes are checked first;
# zipfile never inflates past a declared size (it fails the CRC instead), so they are binding.
MAX_XML_BYTES = 64 * 1024 * 1024
MAX_PACKAGE_BYTES = 512 * 1024 * 1024


def check_package(path: Path) -> None:
    """Refuse a .docx whose parts would inflate past the caps, before anything is inflated."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise LoadError(f"not a readable Word document (corrupt zip package): {exc}") from exc
    total = sum(i.file_size for i in infos)
    xml = sum(i.file_size for i in infos if i.filename.lower().endswith((".xml", ".rels")))
    if xml > MAX_XML_BYTES or total > MAX_PACKAGE_BYTES:
        raise LoadError(
            f"Word document too large when unpacked ({human_size(total)}; the limits are "
            f"{human_size(MAX_XML_BYTES)} of text and {human_size(MAX_PACKAGE_BYTES)} in all)"
        )


def _table_lines(table, depth: int = 0) -> list[str]:  # noqa: ANN001
    """One line per row, cells joined by " | "; merged cells (same XML cell) appear once."""
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        seen: list[object] = []  # the XML elements themselves, compared by identity
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):
                continue
            seen.append(cell._tc)
            parts: list[str] = []
            for block in cell.iter_inner_content():
                if hasattr(block, "rows"):
                    if depth < 5:
                        parts.extend(_table_lines(block, depth + 1))
                elif block.text.strip():
                    parts.append(block.text.strip())
            text = " ".join(parts)
            if text:
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return lines


OUTLINE_MAX = 5000  # headings kept per document, as for a PDF's bookmarks


def _heading_level(paragraph) -> int | None:  # noqa: ANN001
    """0 for "Title" and "Heading 1", 1 for "Heading 2", ...; None for other paragraphs."""
    try:
        name = (paragraph.style.name or "") if paragraph.style is not None else ""
    except Exception:  # a style part that python-docx can't resolve
        return None
    if name == "Title":
        return 0
    m = re.fullmatch(r"Heading ([1-9])", name)
    return int(m.group(1)) - 1 if m else None


def _blocks(document, outline: list[Section] | None = None) -> list[str]:  # noqa: ANN001
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):  # a Table
            lines = _table_lines(block)
            if lines:
                blocks.append("\n".join(lines))
        else:
            text = block.text.strip()
            if text:
                blocks.append(text)
                level = _heading_level(block) if outline is not None else None
                if level is not None and len(outline) < OUTLINE_MAX:
                    outline.append(Section(page=0, level=level, title=" ".join(text.split())))
    return blocks


@register(".docx")
def load_docx(path: Path) -> LoadedDocument:
    import docx

    check_package(path)
    try:
        document = docx.Document(str(path))
    except OSError:
        raise
    except Exception as exc:  # PackageNotFoundError, BadZipFile, KeyError, XML errors...
        detail = str(exc).strip() or type(exc).__name__
        raise LoadError(
            f"not a readable Word document (corrupt or password-protected?): {detail}"
        ) from exc
    try:
        outline: list[Section] = []
        blocks = _blocks(document, outline)
    except Exception as exc:
        raise LoadError(f"not a readable Word document: {exc}") from exc
    text = clean_text("\n\n".join(blocks), dehyphenate=False)
    if not text:
        raise LoadError("no text in this Word document")
    try:
        title = (document.core_properties.title or "").strip()
    except Exception:
        title = ""
    return LoadedDocument(path=str(path), title=title or path.stem, pages=[Page(None, text)],
                          outline=outline)
