"""The bundled MiniLM on ONNX Runtime: PyTorch's vectors (fp32) or nearly (mixed, int8), faster.

Why: indexing is embedding-bound (issue 28). ONNX Runtime runs the exported graph without
PyTorch's per-op overhead, and the quantized graphs do the matrix products in 8-bit integers
("int8" all of them; "mixed", the default, all but the most sensitive: `rag.embed.onnx_build`).
Texts of one call are sorted by length and batched, so a short chunk is never padded to a long
one's length. A lone search query runs on its own one-thread session: it never waits behind an
indexing batch nor for a busy second core (see `rag.embed.embeddings._one_thread_if` for the
measurement). Batches go to the one-thread or the all-cores session, whichever has been faster
lately.

The graphs are built once into the models folder by `rag.embed.onnx_build` from the shipped weights.
If onnxruntime is missing or the build fails, the embedder says so in plain words and runs
PyTorch instead (`notice`, `variant == "torch"`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

from rag.embed.embeddings import SentenceTransformerEmbedder
from rag.embed.onnx_build import GRAPHS

log = logging.getLogger(__name__)

VARIANTS = ("onnx-mixed", "onnx-int8", "onnx-fp32", "torch")
# mixed, not int8: int8 scored SciFact test nDCG@10 0.7408 against PyTorch's 0.7464 (the issue
# allows 0.005); mixed keeps the score within it at nearly int8's speed (docs/benchmarks.md,
# issue 28). Choose another with HEARTH_EMBEDDER; a library made with one keeps using it.
DEFAULT_VARIANT = "onnx-mixed"
FOLDER_ENV = "HEARTH_EMBEDDER_DIR"  # where the built graphs live (tests share one build)
VARIANT_ENV = "HEARTH_EMBEDDER"  # choose a variant by hand (benchmarks, a user who must)
BATCH = 32  # texts per run; measured with `python -m bench indexing` (docs/benchmarks.md)


def family(variant: str | None) -> str:
    """Vectors of one family are interchangeable: PyTorch and ONNX fp32 agree to cosine 0.999
    (both "fp32"); each quantized graph rounds differently and is a family of its own."""
    kind = (variant or "torch").removeprefix("onnx-")
    return "fp32" if kind in ("torch", "fp32") else kind


def models_folder(data_dir: str | os.PathLike | None = None) -> Path:
    """Where the ONNX builds live: <data dir>/models/minilm-onnx unless HEARTH_EMBEDDER_DIR."""
    from rag.base.paths import data_dir_path

    env = os.environ.get(FOLDER_ENV)
    return Path(env).expanduser() if env else data_dir_path(data_dir) / "models" / "minilm-onnx"


def ensure_built(folder: Path, model_dir: Path) -> dict:
    """The checked build in `folder`, building it first if it is missing or its source changed.
    A file lock keeps two processes from building at once (the second then finds it done)."""
    from rag.embed import onnx_build

    rec = onnx_build.current(folder, model_dir)
    if rec is not None:
        return rec
    from rag.base.paths import private_file

    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # not chmod: may be a shared dir
    with open(private_file(folder.parent / f".{folder.name}.lock"), "a+") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except ImportError:  # Windows: builds into a temp folder and swaps it in anyway
            pass
        rec = onnx_build.current(folder, model_dir)
        if rec is None:
            log.warning("Building the fast (ONNX) embedder from the bundled model; this happens "
                        "once and takes under a minute.")
            rec = _build_in_child(folder, model_dir)
    return rec


BUILD_TIMEOUT_S = 900


def _build_in_child(folder: Path, model_dir: Path) -> dict:
    """Build in a child process (`python -m rag.embed.embed_onnx`, also the frozen app's form).
    Why: the export needs PyTorch, about 600 MiB that Hearth would otherwise hold for as long
    as it runs (first index peak 920 MiB, later ones 320 MiB: docs/benchmarks.md)."""
    import subprocess

    from rag.embed import onnx_build

    root = str(Path(__file__).resolve().parents[2])  # the folder holding rag/
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    try:
        proc = subprocess.run([sys.executable, "-m", "rag.embed.embed_onnx", str(folder),
                               str(model_dir)], env=env, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise onnx_build.BuildFailed(f"the build process did not finish ({exc})") from exc
    rec = onnx_build.current(folder, model_dir)
    if rec is None:
        lines = proc.stderr.strip().splitlines()
        raise onnx_build.BuildFailed(lines[-1] if lines else f"exit status {proc.returncode}")
    return rec


class OnnxEmbedder(SentenceTransformerEmbedder):
    """The `Embedder` protocol on ONNX Runtime; tokenizer, dim and limits as the PyTorch one."""

    def __init__(self, model_dir: str | Path | None = None, *, variant: str = DEFAULT_VARIANT,
                 folder: Path | None = None, onnx_file: Path | None = None,
                 threads: int | None = None, batch_size: int = BATCH) -> None:
        """`variant`: a graph of `rag.embed.onnx_build.GRAPHS` ("fp32", "int8", "mixed"; with or
        without "onnx-"); `onnx_file` runs that graph as it is (the build's own check);
        otherwise the build in `folder` (made on first load)."""
        super().__init__(model_dir, batch_size=batch_size)
        kind = variant.removeprefix("onnx-")
        if kind not in GRAPHS:
            raise ValueError(f"unknown ONNX variant {variant!r}")
        self.kind = kind
        self.variant = f"onnx-{kind}"
        self.folder = folder or models_folder()
        self.onnx_file = Path(onnx_file) if onnx_file else None
        self.threads = threads
        self.notice = ""
        self.build: dict = {}
        self._fallback: SentenceTransformerEmbedder | None = None
        self._query = None
        self._batch_tok = None
        self._qlock = threading.Lock()
        self._speed: dict[bool, float | None] = {True: None, False: None}  # word-pieces/s
        self._batches = 0

    # -- loading -------------------------------------------------------------------------------
    def _options(self, threads: int | None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1
        if threads:
            opts.intra_op_num_threads = threads
        # Pool threads sleep instead of spinning between ops: under a busy second core (the
        # file-reading child, another program) spinning cost 15 % (measured, int8, 2 threads).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Batches change shape every call (length-sorted windows), and a memory pattern is kept
        # per shape: without them, 1,223 chunks at 16 a call peaked at 441 MiB, same speed.
        # Shrinking the arena after each run saved 120 MiB more but cost 9-13 % of the speed
        # at 16 a call, as the indexer calls: not done (docs/benchmarks.md, issue 28).
        opts.enable_mem_pattern = False
        opts.log_severity_level = 3
        return opts

    def _session(self, path: Path, threads: int | None):
        import onnxruntime as ort

        from rag.offline.privacy import onnxruntime_telemetry_off

        onnxruntime_telemetry_off()  # its own switch too, beside ORT_DISABLE_TELEMETRY (PRIVACY.md)
        return ort.InferenceSession(str(path), sess_options=self._options(threads),
                                    providers=["CPUExecutionProvider"])

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                if self.onnx_file is None:
                    import onnxruntime  # noqa: F401 - a missing runtime: fall back before building

                    self.build = ensure_built(self.folder, self.model_dir)
                    path = self.folder / self.build[self.kind]
                else:
                    path = self.onnx_file
                self._model = self._session(path, self.threads)
            except ImportError as exc:
                self._fall_back(f"ONNX Runtime is not installed ({exc.name or exc})")
            except Exception as exc:  # noqa: BLE001 - any failure: PyTorch still answers
                self._fall_back(str(exc))

    def _fall_back(self, why: str) -> None:
        if self.onnx_file is not None:  # the build's own check: a failure must surface
            raise
        self.notice = (f"The fast embedder could not be used: {why}. Hearth embeds with PyTorch "
                       "instead: the same results, about 2-3 times slower.")
        log.warning(self.notice)
        self.variant = "torch"
        self._fallback = SentenceTransformerEmbedder(self.model_dir)
        self._fallback.load()
        self._model = self._fallback

    def close(self) -> None:
        """Drop the sessions (the build check runs each graph once, then lets it go)."""
        self._model = self._query = None

    @property
    def batch_tokenizer(self):
        """The counting tokenizer's twin that truncates at max_tokens, as sentence-transformers."""
        if self._batch_tok is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tok.enable_truncation(max_length=self.max_tokens)
            tok.no_padding()
            self._batch_tok = tok
        return self._batch_tok

    def _query_session(self):
        """One thread, its own session: a query neither waits for a batch nor for a busy core."""
        with self._qlock:
            if self._query is None:
                self._query = self._session(
                    self.onnx_file or self.folder / self.build[self.kind], 1)
            return self._query

    # -- embedding -----------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        if self._fallback is not None:
            return self._fallback.embed(texts)
        encs = self.batch_tokenizer.encode_batch([t.strip() for t in texts])
        if len(texts) == 1:
            return self._run(self._query_session(), encs)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))  # no padding waste
        with self._encode_lock:
            for start in range(0, len(order), self.batch_size):
                part = [encs[i] for i in order[start:start + self.batch_size]]
                one = self._pick()
                t0 = time.perf_counter()
                out[order[start:start + self.batch_size]] = self._run(
                    self._query_session() if one else self._model, part)
                self._learn(one, sum(len(e.ids) for e in part), time.perf_counter() - t0)
        return out

    def _pick(self) -> bool:
        """One thread or all for the next batch, by which has been faster lately (measured):
        with the second core free, two threads win; when another program keeps it busy, the
        two-thread pool waits for it and one thread wins (2.45x PyTorch against 1.8x under a
        compile on this 2-core machine). Every 16th batch re-measures the other."""
        if self.threads is not None:
            return self.threads == 1
        self._batches += 1
        one, full = self._speed[True], self._speed[False]
        if one is None or full is None:
            return one is None
        best = one >= full
        return (not best) if self._batches % 16 == 0 else best

    def _learn(self, one: bool, tokens: int, seconds: float) -> None:
        rate = tokens / max(seconds, 1e-6)
        old = self._speed[one]
        self._speed[one] = rate if old is None else 0.7 * old + 0.3 * rate

    @staticmethod
    def _run(session, encs) -> np.ndarray:
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encs):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return np.asarray(session.run(None, feed)[0], dtype=np.float32)


def make_embedder(variant: str | None = None, *, data_dir: str | os.PathLike | None = None
                  ) -> SentenceTransformerEmbedder:
    """The embedder for `variant` (default: HEARTH_EMBEDDER, else DEFAULT_VARIANT); nothing
    heavy is loaded until the first embed."""
    variant = variant or os.environ.get(VARIANT_ENV) or DEFAULT_VARIANT
    if variant == "torch":
        return SentenceTransformerEmbedder()
    return OnnxEmbedder(variant=variant, folder=models_folder(data_dir))


def _build_main(argv: list[str]) -> int:
    """The child of `_build_in_child`: build into FOLDER from MODEL_DIR; the reason on stderr."""
    from rag.embed import onnx_build
    from rag.offline.privacy import install_guard, set_offline_env

    set_offline_env()
    install_guard()
    folder, model_dir = Path(argv[0]), Path(argv[1])
    try:
        onnx_build.build(folder, model_dir, lambda file, variant: OnnxEmbedder(
            model_dir, variant=variant, onnx_file=file))
    except onnx_build.BuildFailed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_build_main(sys.argv[1:]))
