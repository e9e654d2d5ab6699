"""Measure a PDF's compressed streams before PDFium unpacks them.

Why: PDFium unpacks a page's content streams whole, with no limit, so one flate "bomb" (a few
MB that inflate to a GiB) takes the reading child far past its memory limit before the parent's
check can stop it. Every stream of a PDF is a top-level object (never inside an object stream),
so a pass over the file's bytes finds them all; each FlateDecode stream is inflated here in
bounded steps that are thrown away, and a stream, or the whole file, that unpacks to more than
the limits is refused before PDFium opens the file: one stream over MAX_STREAM, one page's
content streams together over MAX_PAGE (pypdf maps pages to their streams without unpacking
anything), or all text-bearing streams over MAX_TOTAL (images are left out of the total: PDFium
unpacks them one at a time, and only to render a page for OCR). Encrypted streams don't inflate
here and are left to PDFium; other filters (LZW, run length) are rare and not measured.
"""

from __future__ import annotations

import mmap
import re
import zlib
from pathlib import Path

from rag.base.errors import LoadError
from rag.loaders.base import human_size

MAX_STREAM = 256 << 20  # one stream, unpacked: far above any real page's text or image
MAX_PAGE = 256 << 20  # one page's content streams together (PDFium joins them)
MAX_TOTAL = 1 << 30  # all streams but images of one file: ~50,000 pages of text
STEP = 16 << 20  # inflated at a time (and dropped)

_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")
_END = re.compile(rb"\r?\n?endstream")
_OBJ_NUMBER = re.compile(rb"(\d+)\s+\d+\s+$")


def check_streams(path: str | Path, max_stream: int = MAX_STREAM, max_page: int = MAX_PAGE,
                  max_total: int = MAX_TOTAL) -> None:
    """Raise LoadError when a FlateDecode stream, a page's streams, or all of them unpack to
    more than the limits. Reads the file once, inflating in STEP pieces (memory stays ~STEP)."""
    sizes: dict[int, int] = {}  # object number -> unpacked size
    with open(path, "rb") as fh:
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file: PDFium says what is wrong with it
            return
        with data:
            total = 0
            for number, image, start, end in _flate_streams(data):
                size = _inflated_size(data, start, end, max_stream + 1)
                if size > max_stream:
                    raise LoadError(f"PDF too large when unpacked (one part unpacks to more "
                                    f"than {human_size(max_stream)})")
                sizes[number] = size
                total += 0 if image else size
                if total > max_total:
                    raise LoadError(f"PDF too large when unpacked (more than "
                                    f"{human_size(max_total)} in all)")
    if total <= max_page:  # no page can be over: pypdf need not map them (the usual case)
        return
    for page, size in _page_sizes(path, sizes):
        if size > max_page:
            raise LoadError(f"PDF too large when unpacked (page {page} unpacks to more than "
                            f"{human_size(max_page)})")


def _page_sizes(path: str | Path, sizes: dict[int, int]):
    """(page number, unpacked size of its content streams); nothing where pypdf can't map the
    pages (a damaged or encrypted file: the other limits still hold)."""
    if not any(sizes.values()):
        return
    try:
        from pypdf import PdfReader
        from pypdf.generic import ArrayObject, IndirectObject

        reader = PdfReader(str(path), strict=False)
        for number, page in enumerate(reader.pages, 1):
            contents = page.get("/Contents")
            refs = contents if isinstance(contents, ArrayObject) else [contents]
            yield number, sum(sizes.get(r.idnum, 0) for r in refs
                              if isinstance(r, IndirectObject))
    except Exception:  # noqa: BLE001 - pypdf's many errors: this check is a bonus, not a gate
        return


def _flate_streams(data: mmap.mmap):
    """(object number, is an image, start, end) of the raw bytes of each stream whose
    dictionary names FlateDecode."""
    pos = 0
    while (m := _STREAM.search(data, pos)) is not None:
        start = m.end()
        head = data[max(0, m.start() - 4096):m.start()]
        pos = start
        at = head.rfind(b"obj")
        number = _OBJ_NUMBER.search(head[max(0, at - 24):at]) if at >= 0 else None
        head = head[at:]  # the stream's dictionary: after "N 0 obj"
        if b"/FlateDecode" not in head:
            continue
        length = _LENGTH.search(head)
        end = start + int(length.group(1)) if length else -1
        if end < 0 or end > len(data) or not data[end:end + 12].lstrip().startswith(b"endstream"):
            found = _END.search(data, start)  # an indirect or wrong /Length: find the end
            end = found.start() if found else len(data)
        pos = max(pos, end)
        yield (int(number.group(1)) if number else -1, b"/Image" in head, start, end)


def _inflated_size(data: mmap.mmap, start: int, end: int, limit: int) -> int:
    """Bytes the stream inflates to, counting no further than `limit`."""
    inflate = zlib.decompressobj()
    size, pos = 0, start
    while pos < end and size < limit:
        chunk = data[pos:min(end, pos + (1 << 20))]
        pos += len(chunk)
        try:
            size += len(inflate.decompress(chunk, STEP))
            while inflate.unconsumed_tail and size < limit:
                size += len(inflate.decompress(inflate.unconsumed_tail, STEP))
        except zlib.error:  # encrypted or damaged: PDFium decides what to make of it
            return size
        if inflate.eof:
            break
    return size
