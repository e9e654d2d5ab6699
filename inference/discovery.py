"""Find GGUF models already on this computer, without loading or copying them.

Sources: the bundled SmolLM2, Hearth's own `<data_dir>/models`, and — read-only — the folders of
other local tools: GPT4All, LM Studio, Ollama's blob store (names resolved through its manifests),
the Hugging Face hub cache and llama.cpp's download cache. Every root can be overridden (tests
build fake layouts in temp dirs). Listing only checks the 4 magic bytes; full header details
(`with_info=True`) cost a fraction of a second per model. `iter_models` yields each model as it
is found (the Settings list fills in while other tools' folders are still being searched).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from inference.base import ModelError
from inference.bundled import BUNDLED_NAME, bundled_model_path
from inference.gguf_info import MAGIC, GGUFInfo, read_gguf_info
from rag.base.cancel import CancelToken

SOURCES = ("bundled", "hearth", "gpt4all", "lmstudio", "ollama", "huggingface", "llamacpp")
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"


@dataclass
class ModelEntry:
    name: str
    path: str
    source: str
    size: int
    read_only: bool = True
    info: GGUFInfo | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "info"}
        out["info"] = self.info.to_dict() if self.info else None
        return out


@dataclass
class DiscoveryRoots:
    """Folders searched per source; empty list = source off. Defaults from `default_roots`."""

    hearth: list[Path] = field(default_factory=list)
    gpt4all: list[Path] = field(default_factory=list)
    lmstudio: list[Path] = field(default_factory=list)
    ollama: list[Path] = field(default_factory=list)
    huggingface: list[Path] = field(default_factory=list)
    llamacpp: list[Path] = field(default_factory=list)
    include_bundled: bool = True


def default_roots(data_dir: Path | None = None, home: Path | None = None,
                  env: dict | None = None) -> DiscoveryRoots:
    """Where each tool keeps its models on Linux, macOS and Windows (env vars honoured)."""
    env = os.environ if env is None else env
    home = Path(home) if home else Path.home()
    mac = sys.platform == "darwin"
    local = Path(env.get("LOCALAPPDATA", home / "AppData" / "Local"))
    xdg_data = Path(env.get("XDG_DATA_HOME", home / ".local" / "share"))
    xdg_cache = Path(env.get("XDG_CACHE_HOME", home / ".cache"))
    hf_home = Path(env.get("HF_HOME", xdg_cache / "huggingface"))
    if data_dir is None:
        from rag.base.paths import data_dir_path

        data_dir = data_dir_path(None)  # only looked into: created when a model is added
    return DiscoveryRoots(
        hearth=[Path(data_dir) / "models"],
        gpt4all=[xdg_data / "nomic.ai" / "GPT4All",
                 home / "Library" / "Application Support" / "nomic.ai" / "GPT4All",
                 local / "nomic.ai" / "GPT4All"],
        lmstudio=[home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"],
        ollama=[Path(env["OLLAMA_MODELS"])] if env.get("OLLAMA_MODELS") else
               [home / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")],
        huggingface=[Path(env.get("HF_HUB_CACHE", hf_home / "hub"))],
        llamacpp=[Path(env["LLAMA_CACHE"])] if env.get("LLAMA_CACHE") else
                 [home / "Library" / "Caches" / "llama.cpp" if mac else xdg_cache / "llama.cpp",
                  local / "llama.cpp"],
    )


def is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


def _wanted(path: Path) -> bool:
    """Skip vision projectors, later shards of split models, and anything not a GGUF."""
    low = path.name.lower()
    if "mmproj" in low:
        return False
    shard = _SHARD.search(low)
    if shard and shard.group(1) != "00001":
        return False
    return path.is_file() and is_gguf(path)


def _ggufs(root: Path, max_depth: int = 4) -> Iterator[Path]:
    """GGUF files under `root`, yielded as the walk reaches them (a big tree costs seconds)."""
    if not root.is_dir():
        return
    base = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if len(Path(dirpath).parts) - base >= max_depth:
            dirnames[:] = []
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.lower().endswith(".gguf") and _wanted(Path(dirpath) / f):
                yield Path(dirpath) / f


def _entry(name: str, path: Path, source: str, read_only: bool = True) -> ModelEntry:
    try:
        size = path.stat().st_size
    except OSError:  # vanished or unreadable between the scan and now: listed with size 0
        size = 0
    return ModelEntry(name, str(path), source, size, read_only)


def _scan_simple(roots: list[Path], source: str, read_only: bool) -> Iterator[ModelEntry]:
    for r in roots:
        for p in _ggufs(r, 2):
            yield _entry(p.stem, p, source, read_only)


def _scan_lmstudio(roots: list[Path]) -> Iterator[ModelEntry]:
    """LM Studio: models/<publisher>/<repo>/<file>.gguf -> "publisher/repo/file"."""
    for root in roots:
        for p in _ggufs(root, 3):
            rel = p.relative_to(root).with_suffix("")
            yield _entry("/".join(rel.parts), p, "lmstudio")


def _scan_huggingface(roots: list[Path]) -> Iterator[ModelEntry]:
    """HF hub cache: models--org--repo/snapshots/<rev>/<file>.gguf (symlinks into blobs/)."""
    seen = set()
    for root in roots:
        if not root.is_dir():
            continue
        for repo in sorted(root.glob("models--*")):
            repo_id = "/".join(repo.name.split("--")[1:])
            for snap in sorted((repo / "snapshots").glob("*"), key=_mtime, reverse=True):
                for p in _ggufs(snap, 3):
                    rel = p.relative_to(snap).with_suffix("").as_posix()
                    if (repo_id, rel) in seen:  # same file in an older snapshot
                        continue
                    seen.add((repo_id, rel))
                    yield _entry(f"{repo_id}/{rel}", p, "huggingface")


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def _scan_ollama(roots: list[Path]) -> Iterator[ModelEntry]:
    """Ollama: manifests/<registry>/<namespace>/<model>/<tag> JSON -> blobs/sha256-<hex>."""
    for root in roots:
        manifests = root / "manifests"
        if not manifests.is_dir():
            continue
        for mf in sorted(p for p in manifests.rglob("*") if p.is_file()):
            try:
                layers = json.loads(mf.read_text(encoding="utf-8")).get("layers", [])
            except (OSError, ValueError, AttributeError):
                continue
            digest = next((la.get("digest") for la in layers
                           if la.get("mediaType") == _OLLAMA_MODEL_LAYER), None)
            if not digest:
                continue
            blob = root / "blobs" / digest.replace(":", "-")
            if not blob.is_file() or not is_gguf(blob):
                continue
            parts = mf.relative_to(manifests).parts  # registry, namespace, model, tag
            model, tag = parts[-2], parts[-1]
            namespace = parts[-3] if len(parts) >= 3 else "library"
            name = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
            yield _entry(name, blob, "ollama")


def _bundled(data_dir: Path | None = None) -> list[ModelEntry]:
    out = []
    try:
        out.append(_entry(BUNDLED_NAME, bundled_model_path(), "bundled"))
    except ModelError:
        pass
    # gemma-3-270m (also installed, for tests that need a second GGUF) is a base model, not a
    # chat model: it is never offered. The pinned Qwen models are, once their packages are installed.
    from inference import answer_model

    for pinned in answer_model.PINNED:
        if answer_model.available(data_dir, pinned):
            target = answer_model.target_path(data_dir, pinned)
            out.append(ModelEntry(pinned.name, str(target), "bundled", pinned.size,
                                  read_only=True))
    return out


def _sources(data_dir: Path | None, roots: DiscoveryRoots) -> Iterator[ModelEntry]:
    """Every candidate, bundled first then Hearth's own, then other tools' (lazily, in order)."""
    if roots.include_bundled:
        yield from _bundled(data_dir)
    yield from _scan_simple(roots.hearth, "hearth", read_only=False)
    yield from _scan_simple(roots.gpt4all, "gpt4all", read_only=True)
    yield from _scan_lmstudio(roots.lmstudio)
    yield from _scan_ollama(roots.ollama)
    yield from _scan_huggingface(roots.huggingface)
    yield from _scan_simple(roots.llamacpp, "llamacpp", read_only=True)


def _read_info(e: ModelEntry) -> None:
    if not Path(e.path).exists():  # the answering model before its first use
        return
    try:
        e.info = read_gguf_info(e.path)
    except ModelError as exc:
        e.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad file must not hide the others
        e.error = f"{Path(e.path).name} could not be read ({type(exc).__name__})."


def iter_models(data_dir: Path | None = None, roots: DiscoveryRoots | None = None,
                with_info: bool = False, cancel: CancelToken | None = None
                ) -> Iterator[ModelEntry]:
    """Each model as soon as it is found (same order and names as `discover_models`), so a
    caller can show the first ones while slow folders are still searched. Stops between models
    once `cancel.cancelled` is true."""
    roots = roots or default_roots(data_dir)
    seen_paths: set[str] = set()
    names: set[str] = set()
    for e in _sources(data_dir, roots):
        if cancel is not None and cancel.cancelled:
            return
        real = os.path.realpath(e.path)
        if real in seen_paths:
            continue
        seen_paths.add(real)
        if e.name.lower() in names:
            e.name = f"{e.name} ({e.source})"
        names.add(e.name.lower())
        if with_info:
            _read_info(e)
        yield e


def discover_models(data_dir: Path | None = None, roots: DiscoveryRoots | None = None,
                    with_info: bool = False) -> list[ModelEntry]:
    """All models found, bundled first then Hearth's own, then other tools'. Names are unique."""
    return list(iter_models(data_dir, roots, with_info))


def find_model(name: str, data_dir: Path | None = None,
               roots: DiscoveryRoots | None = None) -> ModelEntry | None:
    """Exact name, then file stem, then a unique case-insensitive substring."""
    entries = discover_models(data_dir, roots)
    key = name.lower().strip()
    for test in (lambda e: e.name.lower() == key,
                 lambda e: Path(e.path).stem.lower() == key,
                 lambda e: key in e.name.lower()):
        hits = [e for e in entries if test(e)]
        if len(hits) == 1:
            return hits[0]
    return None


def add_model(file: str | os.PathLike, data_dir: Path | None = None) -> ModelEntry:
    """Copy a validated GGUF into `<data_dir>/models` (atomic: temp file, then rename)."""
    import shutil

    from inference.gguf_info import check_model_file
    from rag.base.paths import ensure_private_dir, resolve_data_dir

    src = Path(file).expanduser()
    info = check_model_file(src)
    folder = ensure_private_dir(resolve_data_dir(data_dir) / "models")
    dest = folder / (src.stem + ".gguf")
    if dest.exists():
        if dest.stat().st_size == src.stat().st_size:
            entry = _entry(dest.stem, dest, "hearth", read_only=False)
            entry.info = info
            return entry
        n = 2
        while (folder / f"{src.stem}-{n}.gguf").exists():
            n += 1
        dest = folder / f"{src.stem}-{n}.gguf"
    free = shutil.disk_usage(folder).free
    if free < info.file_size + (64 << 20):
        raise ModelError(f"Not enough disk space to copy {src.name} "
                         f"({info.file_size / 1e9:.1f} GB needed).")
    tmp = dest.with_suffix(".gguf.partial")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"Could not copy {src.name}: {exc.strerror or exc}") from exc
    entry = _entry(dest.stem, dest, "hearth", read_only=False)
    entry.info = info
    return entry
