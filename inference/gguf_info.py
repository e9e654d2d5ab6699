"""Read a GGUF file's header (metadata + tensor table) without loading any weights.

Why our own reader: it streams the header with plain reads (no mmap of gigabytes), skips the big
tokenizer arrays cheaply, and turns every kind of damage (wrong magic, truncation, absurd sizes)
into a `ModelError` with a message a person can act on, before llama.cpp ever sees the file.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from inference.base import ModelError

MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_MAX_STR = 64 * 1024 * 1024  # chat templates are KBs; anything this large is corruption
_MAX_COUNT = 1 << 28
_KEEP_ARRAY = 64  # small arrays (e.g. per-layer head counts) are kept, big ones only counted
_MAX_NESTING = 8  # real files nest arrays at most 2 deep; 5,000 deep once blew Python's stack


@dataclass
class GGUFInfo:
    """What Hearth shows and needs about a model before loading it."""

    path: str
    file_size: int
    version: int
    architecture: str
    name: str
    parameters: int
    quantization: str
    context_length: int
    has_chat_template: bool
    n_layers: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim_k: int
    head_dim_v: int
    tensor_bytes: int
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    def to_dict(self) -> dict:
        """JSON-friendly summary (metadata left out: templates and token lists are large)."""
        out = asdict(self)
        out.pop("metadata")
        return out


class _Reader:
    def __init__(self, fh: BinaryIO, size: int, path: Path) -> None:
        self.fh, self.size, self.path = fh, size, path

    def read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ModelError(f"{self.path.name} is truncated (the file ends inside its header).")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def skip(self, n: int) -> None:
        if self.fh.tell() + n > self.size:
            raise ModelError(f"{self.path.name} is truncated (the file ends inside its header).")
        self.fh.seek(n, os.SEEK_CUR)

    def string(self, keep: bool = True) -> str | None:
        n = self.unpack("<Q")
        if n > _MAX_STR:
            raise ModelError(f"{self.path.name} is not a valid GGUF file (corrupt header string).")
        if not keep:
            self.skip(n)
            return None
        return self.read(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            if depth >= _MAX_NESTING:
                raise ModelError(
                    f"{self.path.name} is not a valid GGUF file (arrays nested too deep).")
            etype, count = self.unpack("<I"), self.unpack("<Q")
            if count > _MAX_COUNT:
                raise ModelError(f"{self.path.name} is not a valid GGUF file (corrupt array).")
            if count <= _KEEP_ARRAY and etype != _ARRAY:
                return [self.value(etype, depth + 1) for _ in range(count)]
            if etype in _SCALARS:
                self.skip(struct.calcsize(_SCALARS[etype]) * count)
            elif etype == _STRING:
                for _ in range(count):
                    self.string(keep=False)
            else:
                for _ in range(count):
                    self.value(etype, depth + 1)
            return _ArrayLen(count)
        raise ModelError(f"{self.path.name} is not a valid GGUF file (unknown value type {vtype}).")


class _ArrayLen(int):
    """Stands in for a large array we skipped: remembers only its length."""


def read_gguf_info(path: str | os.PathLike) -> GGUFInfo:
    """Parse and sanity-check the header; raise ModelError for missing/non-GGUF/truncated files."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"Model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"{path} is not a file.")
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            return _parse(_Reader(fh, size, path), path, size)
    except OSError as exc:
        raise ModelError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        # any damage the checks above did not foresee still ends as a plain ModelError
        raise ModelError(f"{path.name} is not a valid GGUF file ({type(exc).__name__}).") from exc


def _parse(r: _Reader, path: Path, size: int) -> GGUFInfo:
    if size < 24 or r.read(4) != MAGIC:
        raise ModelError(f"{path.name} is not a GGUF model file (wrong magic bytes).")
    version = r.unpack("<I")
    if version not in (2, 3):
        hint = " (big-endian files are not supported)" if version > 0xFFFF else ""
        raise ModelError(f"{path.name} uses GGUF version {version}{hint}; need version 2 or 3.")
    n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
    if n_tensors > 1_000_000 or n_kv > 1_000_000:
        raise ModelError(f"{path.name} is not a valid GGUF file (corrupt header counts).")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.unpack("<I"))
    tensors = _read_tensor_table(r, n_tensors)
    align = int(meta.get("general.alignment", 32) or 32)
    data_start = math.ceil(r.fh.tell() / align) * align
    end = max((off + nbytes for off, nbytes, _, _ in tensors), default=0)
    if data_start + end > size:
        missing = data_start + end - size
        raise ModelError(
            f"{path.name} is truncated: {missing / 1e6:.1f} MB of weights are missing "
            "(an interrupted download or copy?)."
        )
    return _summarise(path, size, version, meta, tensors)


def _read_tensor_table(r: _Reader, n_tensors: int) -> list[tuple[int, int, int, int]]:
    """(offset, nbytes, ggml_type, n_elements) for each tensor."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    out = []
    for _ in range(n_tensors):
        r.string(keep=False)
        n_dims = r.unpack("<I")
        if n_dims > 8:
            raise ModelError(f"{r.path.name} is not a valid GGUF file (corrupt tensor table).")
        n_elems = math.prod(r.unpack("<Q") for _ in range(n_dims))
        ttype, offset = r.unpack("<I"), r.unpack("<Q")
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ttype)]
        except (ValueError, KeyError):
            raise ModelError(
                f"{r.path.name} uses a tensor type ({ttype}) this version of Hearth can't read."
            ) from None
        out.append((offset, n_elems // block * type_size, ttype, n_elems))
    return out


def _summarise(path: Path, size: int, version: int, meta: dict, tensors: list) -> GGUFInfo:
    arch = str(meta.get("general.architecture", "") or "")

    def arch_int(key: str, default: int = 0) -> int:
        value = meta.get(f"{arch}.{key}", default)
        if isinstance(value, list):  # per-layer values: take the largest
            value = max(value) if value else default
        try:
            return int(value)
        except (TypeError, ValueError):
            return default

    n_embd, n_head = arch_int("embedding_length"), arch_int("attention.head_count")
    n_head_kv = arch_int("attention.head_count_kv", n_head) or n_head
    head_dim = n_embd // n_head if n_head else 0
    return GGUFInfo(
        path=str(path),
        file_size=size,
        version=version,
        architecture=arch,
        name=str(meta.get("general.name", "") or path.stem),
        parameters=sum(t[3] for t in tensors),
        quantization=_quant_name(meta, tensors),
        context_length=arch_int("context_length"),
        has_chat_template=isinstance(meta.get("tokenizer.chat_template"), str),
        n_layers=arch_int("block_count"),
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim_k=arch_int("attention.key_length", head_dim) or head_dim,
        head_dim_v=arch_int("attention.value_length", head_dim) or head_dim,
        tensor_bytes=sum(t[1] for t in tensors),
        metadata=meta,
    )


def _quant_name(meta: dict, tensors: list) -> str:
    """general.file_type if present (e.g. Q4_K_M), else the type holding most weight bytes."""
    from gguf.constants import GGMLQuantizationType, LlamaFileType

    ftype = meta.get("general.file_type")
    if isinstance(ftype, int):
        try:
            return LlamaFileType(ftype).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    by_type: dict[int, int] = {}
    for _, nbytes, ttype, _ in tensors:
        by_type[ttype] = by_type.get(ttype, 0) + nbytes
    if not by_type:
        return "unknown"
    return GGMLQuantizationType(max(by_type, key=by_type.__getitem__)).name


def known_architectures() -> set[str]:
    """Architectures the installed gguf package (kept in step with llama.cpp) knows about."""
    from gguf.constants import MODEL_ARCH_NAMES

    return set(MODEL_ARCH_NAMES.values())


# Architectures that are not text generators (encoders, projectors, vocoders).
NOT_CHAT = {"clip", "bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "t5encoder",
            "wavtokenizer-dec", "modern-bert", "neo-bert"}


def check_model_file(path: str | os.PathLike) -> GGUFInfo:
    """Header validation and architecture check, without loading weights."""
    info = read_gguf_info(path)
    if not info.architecture:
        raise ModelError(f"{Path(path).name} has no architecture in its header; is it a model?")
    if info.architecture in NOT_CHAT:
        raise ModelError(
            f"{Path(path).name} is a {info.architecture!r} model (not a chat model); "
            "Hearth needs a text-generation model."
        )
    if info.architecture not in known_architectures():
        raise ModelError(
            f"{Path(path).name} uses the architecture {info.architecture!r}, which this version "
            "of llama.cpp does not support."
        )
    if info.n_layers <= 0 or info.parameters <= 0:
        raise ModelError(f"{Path(path).name} has no weights in it.")
    return info
