"""PowerPoint slides (.pptx) via python-pptx: each slide is a page (page = slide number).

Why slide by slide: answers cite "slide 7" the way PDFs cite pages. A slide's text is its title,
then its shapes top to bottom, left to right (text boxes, tables with one row per line and cells
separated by " | ", grouped shapes), then the speaker notes. Old binary .ppt is not supported.
"""

from __future__ import annotations

from pathlib import Path

from rag.base.errors import LoadError
from rag.base.types import LoadedDocument, Page
from rag.loaders.base import clean_text, register
from rag.loaders.package import open_package

KIND = "PowerPoint file"
_MAX_DEPTH = 20


def _shape_lines(shape, depth: int = 0) -> list[str]:  # noqa: ANN001
    if depth > _MAX_DEPTH:
        return []
    lines: list[str] = []
    if getattr(shape, "shape_type", None) == 6 or hasattr(shape, "shapes"):  # a group
        for inner in _ordered(getattr(shape, "shapes", [])):
            lines += _shape_lines(inner, depth + 1)
        return lines
    if getattr(shape, "has_table", False):
        for row in shape.table.rows:
            cells = [" ".join(c.text.split()) for c in row.cells]
            while cells and not cells[-1]:
                cells.pop()
            if any(cells):
                lines.append(" | ".join(cells))
        return lines
    if getattr(shape, "has_text_frame", False):
        lines += [p.text for p in shape.text_frame.paragraphs if p.text.strip()]
    return lines


def _ordered(shapes) -> list:  # noqa: ANN001
    def key(s) -> tuple[int, int]:  # noqa: ANN001
        return (s.top if s.top is not None else 0, s.left if s.left is not None else 0)
    return sorted(shapes, key=key)


def _slide_text(slide) -> str:  # noqa: ANN001
    title_shape = slide.shapes.title
    lines: list[str] = []
    if title_shape is not None and title_shape.has_text_frame and title_shape.text.strip():
        lines.append(title_shape.text)
    for shape in _ordered(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        lines += _shape_lines(shape)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            lines.append("Notes: " + notes.text)
    return clean_text("\n".join(lines), dehyphenate=False)


@register(".pptx")
def load_pptx(path: Path) -> LoadedDocument:
    from pptx import Presentation

    open_package(path, KIND).close()  # size caps before python-pptx inflates anything
    try:
        deck = Presentation(str(path))
    except OSError:
        raise
    except Exception as exc:  # PackageNotFoundError, KeyError, XML errors...
        detail = str(exc).strip() or type(exc).__name__
        raise LoadError(f"not a readable {KIND} (corrupt or password-protected?): {detail}") from exc
    pages: list[Page] = []
    for number, slide in enumerate(deck.slides, 1):
        try:
            text = _slide_text(slide)
        except Exception as exc:  # noqa: BLE001 - one odd slide must not lose the deck
            text = ""
            if number == 1 and len(deck.slides) == 1:
                raise LoadError(f"not a readable {KIND}: {exc}") from exc
        if text:
            pages.append(Page(number=number, text=text))
    if not pages:
        raise LoadError("no text on these slides")
    try:
        title = (deck.core_properties.title or "").strip()
    except Exception:  # noqa: BLE001
        title = ""
    return LoadedDocument(path=str(path), title=title or path.stem, pages=pages)
