"""Zip-packaged documents (.epub, .odt, .pptx): open the package safely.

Why a check before parsing: a zip's parts can inflate a thousandfold (a 1 MB file once reached
2 GB of memory); declared sizes are checked first, and zipfile never inflates past a declared
size (it fails the CRC instead), so the caps hold.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from rag.base.errors import LoadError
from rag.loaders.base import human_size

MAX_PART_BYTES = 64 * 1024 * 1024  # one XML/XHTML part
MAX_PACKAGE_BYTES = 512 * 1024 * 1024  # everything, unpacked


def open_package(path: Path, kind: str) -> zipfile.ZipFile:
    """The package as an open ZipFile (caller closes it), or a LoadError naming `kind`."""
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise LoadError(f"not a readable {kind} (not a valid zip package: {exc})") from exc
    total = sum(i.file_size for i in infos)
    biggest = max((i.file_size for i in infos if not i.is_dir()), default=0)
    if total > MAX_PACKAGE_BYTES or biggest > MAX_PART_BYTES * 4:
        zf.close()
        raise LoadError(f"{kind} too large when unpacked ({human_size(total)}; the limit is "
                        f"{human_size(MAX_PACKAGE_BYTES)})")
    return zf


def read_part(zf: zipfile.ZipFile, name: str, kind: str) -> bytes:
    """One part's bytes; a missing, oversized or corrupt part is a LoadError."""
    try:
        info = zf.getinfo(name)
    except KeyError as exc:
        raise LoadError(f"not a readable {kind}: the part {name} is missing") from exc
    if info.file_size > MAX_PART_BYTES:
        raise LoadError(f"{kind} too large when unpacked ({name}: {human_size(info.file_size)})")
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise LoadError(f"not a readable {kind}: {name} is damaged ({exc})") from exc
