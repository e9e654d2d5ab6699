"""Measure a PDF's compressed streams before PDFium unpacks them.

Why: PDFium unpacks a page's content streams whole, with no limit, so one flate "bomb" (a few
MB that inflate to a GiB) takes the reading child far past its memory limit before the parent's
check can stop it. Every stream of a PDF is a top-level object (never inside an object stream),
so a pass over the file's bytes finds them all; each FlateDecode stream is inflated here in
bounded steps that are thrown away, and a stream, or the whole file, that unpacks to more than
the limits is refused before PDFium opens the file. Encrypted streams don't inflate here and are
left to PDFium; other filters (LZW, run length) are rare and not measured.
"""

from __future__ import annotations

import mmap
import re
import zlib
from pathlib import Path

from rag.errors import LoadError
from rag.loaders.base import human_size

MAX_STREAM = 256 << 20  # one stream, unpacked: far above any real page's text
MAX_TOTAL = 2 << 30  # all streams of one file, unpacked
STEP = 16 << 20  # inflated at a time (and dropped)

_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")
_END = re.compile(rb"\r?\n?endstream")


def check_streams(path: str | Path, max_stream: int = MAX_STREAM,
                  max_total: int = MAX_TOTAL) -> None:
    """Raise LoadError when a FlateDecode stream, or all of them together, unpack to more than
    the limits. Reads the file once, inflating in STEP pieces (memory stays ~STEP)."""
    with open(path, "rb") as fh:
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file: PDFium says what is wrong with it
            return
        with data:
            total = 0
            for start, end in _flate_streams(data):
                size = _inflated_size(data, start, end, max_stream + 1)
                if size > max_stream:
                    raise LoadError(f"PDF too large when unpacked (one part unpacks to more "
                                    f"than {human_size(max_stream)})")
                total += size
                if total > max_total:
                    raise LoadError(f"PDF too large when unpacked (more than "
                                    f"{human_size(max_total)} in all)")


def _flate_streams(data: mmap.mmap):
    """(start, end) of the raw bytes of each stream whose dictionary names FlateDecode."""
    pos = 0
    while (m := _STREAM.search(data, pos)) is not None:
        start = m.end()
        head = data[max(0, m.start() - 4096):m.start()]
        pos = start
        head = head[head.rfind(b"obj"):]  # the stream's dictionary: after "N 0 obj"
        if b"/FlateDecode" not in head:
            continue
        length = _LENGTH.search(head)
        end = start + int(length.group(1)) if length else -1
        if end < 0 or end > len(data) or not data[end:end + 12].lstrip().startswith(b"endstream"):
            found = _END.search(data, start)  # an indirect or wrong /Length: find the end
            end = found.start() if found else len(data)
        pos = max(pos, end)
        yield start, end


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
